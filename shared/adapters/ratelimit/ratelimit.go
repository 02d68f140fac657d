// Package ratelimit owns the card-attempt limits of the tokenize and pay routes (DESIGN §4): counters
// in the billing table, per principal and per customer, that every instance of the tokens and payments
// functions shares, so no number of concurrent Lambda instances multiplies an attacker's budget.
//
// Design. A counter is an item per subject and fixed window: pk "RATE#principal#<id>" or
// "RATE#customer#<id>", sk "W#<window start, Unix seconds>", a count n and the table's TTL attribute
// set to the window's end, after which DynamoDB deletes it (the window is part of the key, so an item
// not yet deleted is simply never read again). An attempt is two UpdateItem calls (ADD n 1), the
// principal's counter then the customer's, each conditioned on its count being under the limit and
// marking the counter with the attempt's id ("last"): the SDK retries a count whose answer was lost
// after DynamoDB applied it, and the retry, finding its own mark, is that count, not another (an
// attempt that slips in between the two tries leaves one count too many: stricter, never looser). They
// are not one transaction: a transaction bills twice the write units of its items, and every card
// attempt pays it. When the customer's counter refuses, the principal's count is given back (ADD n -1),
// so an attempt refused by either counter counts against neither: a throttled caller stays throttled
// only until the window ends, which is what Retry-After says. Between the two calls, and if giving
// back fails, the principal holds one count more than it used: the limit is then stricter, never
// looser. An attempt that names no customer it may act for counts against its principal alone.
//
// A fixed window lets a caller who waits for a window's last moment make up to twice the limit across
// the boundary; over any longer run the rate stays at the limit per window (30 per 10 minutes by
// default: about 4 300 guesses a day, against the 10^5 middles of a card number).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// DB is the DynamoDB call the limiter makes; *dynamodb.Client satisfies it.
type DB interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Config is the limit: at most Attempts card attempts per Window, per principal and per customer.
type Config struct {
	Attempts int
	Window   time.Duration
}

// Defaults is DESIGN §4's limit.
var Defaults = Config{Attempts: 30, Window: 10 * time.Minute}

// ConfigFrom reads CARD_ATTEMPT_LIMIT and CARD_ATTEMPT_WINDOW, falling back to Defaults.
func ConfigFrom(c config.Config) (Config, error) {
	out := Defaults
	if v := c.Lookup(config.EnvCardAttemptLimit); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return out, fmt.Errorf("%s=%q: want a whole number of at least 1", config.EnvCardAttemptLimit, v)
		}
		out.Attempts = n
	}
	if v := c.Lookup(config.EnvCardAttemptWindow); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d%time.Second != 0 {
			return out, fmt.Errorf("%s=%q: want a whole number of seconds of at least 1s, such as 10m", config.EnvCardAttemptWindow, v)
		}
		out.Window = d
	}
	return out, nil
}

// Limiter counts card attempts in the billing table.
type Limiter struct {
	DB     DB
	Table  string
	Config Config
	// Now is the clock windows are cut from (time.Now when nil).
	Clock clock.Func
}

// Key prefixes of the counter items. The IAM grant of the tokens and payments functions is limited to
// partition keys under Prefix.
const (
	Prefix          = resources.RateLimitKeyPrefix
	principalPrefix = Prefix + "principal#"
	customerPrefix  = Prefix + "customer#"
	countAttr       = "n"
	lastAttr        = "last"
)

// Reasons of a refusal, sent as the problem's "reason".
const (
	ReasonPrincipal = "principal_limit"
	ReasonCustomer  = "customer_limit"
)

// Attempt counts one card attempt by principal for customer and refuses it with 429 rate_limited,
// carrying the time until the window ends, when either has used up the window's limit. Any DynamoDB
// fault refuses it too (503): without a count, an attempt is never let through.
//
// customer is "" when the request names no customer the principal may act for. An id that is not
// shaped like a customer id counts as none: it names no customer (the request is refused later), and
// counting it would store a client-chosen string in the table.
func (l *Limiter) Attempt(ctx context.Context, principal, customer string) error {
	now := l.Clock.Now()
	secs := int64(l.Config.Window / time.Second)
	start := now.Unix() / secs * secs
	end := time.Unix(start+secs, 0)
	sk := "W#" + strconv.FormatInt(start, 10)
	id := ids.New(ids.Attempt)
	count := func(pk string) (map[string]types.AttributeValue, error) {
		key := map[string]types.AttributeValue{
			resources.PK: &types.AttributeValueMemberS{Value: pk},
			resources.SK: &types.AttributeValueMemberS{Value: sk},
		}
		_, err := l.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           aws.String(l.Table),
			Key:                                 key,
			UpdateExpression:                    aws.String("ADD #n :one SET #exp = :exp, #last = :id"),
			ConditionExpression:                 aws.String("(attribute_not_exists(#n) OR #n < :limit) AND (attribute_not_exists(#last) OR #last <> :id)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			ExpressionAttributeNames:            map[string]string{"#n": countAttr, "#exp": resources.ExpiresAt, "#last": lastAttr},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one":   &types.AttributeValueMemberN{Value: "1"},
				":limit": &types.AttributeValueMemberN{Value: strconv.Itoa(l.Config.Attempts)},
				":exp":   &types.AttributeValueMemberN{Value: strconv.FormatInt(end.Unix(), 10)},
				":id":    &types.AttributeValueMemberS{Value: id},
			},
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			if last, ok := ccf.Item[lastAttr].(*types.AttributeValueMemberS); ok && last.Value == id {
				return key, nil // this attempt's own count, met by the SDK's retry of it
			}
		}
		return key, err
	}
	principalKey, err := count(principalPrefix + principal)
	reason := ReasonPrincipal
	if err == nil && billing.ValidID(billing.CustomerPrefix, customer) {
		reason = ReasonCustomer
		if _, err = count(customerPrefix + customer); err != nil {
			l.giveBack(ctx, principalKey)
		}
	}
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		wait := end.Sub(now)
		return &problem.Error{
			Code: problem.RateLimited, Reason: reason, RetryAfter: wait,
			Detail: fmt.Sprintf("Too many card attempts; retry in %d seconds.", problem.Seconds(wait)),
		}
	}
	return problem.Wrap(problem.ServiceUnavailable, fmt.Errorf("count card attempt of %s: %w", principal, err),
		"Card attempts cannot be counted right now; nothing was stored. Retry shortly.")
}

// giveBack takes back the count of an attempt from the counter at key, unconditionally. Its failure
// is not the request's: the attempt is refused either way, and a count too many only makes the limit
// stricter until the window ends. It is sent once, never retried: a retry after a lost answer would
// take back two counts for one attempt and loosen the limit.
func (l *Limiter) giveBack(ctx context.Context, key map[string]types.AttributeValue) {
	_, _ = l.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(l.Table), Key: key, UpdateExpression: aws.String("ADD #n :minus"),
		ExpressionAttributeNames:  map[string]string{"#n": countAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":minus": &types.AttributeValueMemberN{Value: "-1"}},
	}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
}
