// Package idempotency makes POST requests safe to retry: the first response to an Idempotency-Key is
// kept for 24 hours and replayed, a reused key with another request is refused, and a key whose first
// request is still running is refused until it finishes.
//
// Records live in the billing table under pk "IDEM#<principal>#<key>", sk "IDEM"; keys are scoped per
// principal, so one caller can neither replay nor block another's. DynamoDB's TTL removes them.
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// MaxKeyLength is the longest Idempotency-Key accepted (DESIGN §5).
const MaxKeyLength = 255

// Window is how long a completed response is replayed.
const Window = 24 * time.Hour

// Lease is how long an in-flight claim blocks the key. A function that died mid-request leaves its claim
// behind; after the lease a retry may take the key over. It exceeds the longest function timeout.
const Lease = 2 * time.Minute

// DB is the DynamoDB calls the store makes.
type DB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Store keeps idempotency records in the billing table.
type Store struct {
	DB    DB
	Table string
	Clock clock.Func
}

// Response is a stored first response.
type Response struct {
	Status      int
	ContentType string
	Body        string
}

// Claim is the hold on one key for the request being served.
type Claim struct {
	pk, hash string
	// owner is random per claim: it tells this claim's own write, applied by an attempt whose answer
	// was lost, from another request's.
	owner string
}

const (
	stateInFlight = "in_flight"
	stateDone     = "done"
	sortKey       = "IDEM"
)

// Fingerprint hashes what makes two requests "the same": method, path and body.
func Fingerprint(method, path string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// ValidateKey checks a client's Idempotency-Key.
func ValidateKey(key string) error {
	if len(key) > MaxKeyLength {
		e := problem.Malformed("The Idempotency-Key header is longer than %d characters.", MaxKeyLength)
		e.Fields = []problem.FieldError{{Field: "Idempotency-Key", Message: "at most 255 characters"}}
		return e
	}
	// The key is stored in clear in the record's partition key for a day: it must not be a card number.
	if logging.ContainsPAN(key) || strings.ContainsFunc(key, func(r rune) bool { return !unicode.IsPrint(r) }) {
		e := problem.Malformed("The Idempotency-Key header has characters a key cannot have, or a card number.")
		e.Fields = []problem.FieldError{{Field: "Idempotency-Key", Message: "printable characters, and no card number"}}
		return e
	}
	return nil
}

// Begin claims key for principal. It returns a claim to complete or release, or the stored response
// to replay, or a problem error: idempotency_key_reused (another request) or idempotency_key_in_use.
func (s *Store) Begin(ctx context.Context, principal, key, fingerprint string) (*Claim, *Response, error) {
	now := s.Clock.Now()
	var owner [16]byte
	_, _ = rand.Read(owner[:])
	c := &Claim{pk: resources.IdempotencyKeyPrefix + principal + "#" + key, hash: fingerprint, owner: hex.EncodeToString(owner[:])}
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table),
		Item: map[string]types.AttributeValue{
			resources.PK:        str(c.pk),
			resources.SK:        str(sortKey),
			"state":             str(stateInFlight),
			"requestHash":       str(fingerprint),
			"owner":             str(c.owner),
			"leaseUntil":        num(now.Add(Lease).Unix()),
			resources.ExpiresAt: num(now.Add(Window).Unix()),
		},
		// A new key, an expired record TTL has not removed yet, or an abandoned claim may be taken.
		ConditionExpression: aws.String("attribute_not_exists(pk) OR #exp < :now OR (#state = :inflight AND leaseUntil < :now)"),
		ExpressionAttributeNames: map[string]string{
			"#exp": resources.ExpiresAt, "#state": "state",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": num(now.Unix()), ":inflight": str(stateInFlight),
		},
		// A refused claim returns the record that holds the key, as it was when the condition failed.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return c, nil, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil, nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	held := ccf.Item
	if getS(held, "requestHash") != fingerprint {
		return nil, nil, problem.New(problem.IdempotencyKeyReused, "This Idempotency-Key was used with a different request.")
	}
	if getS(held, "state") == stateInFlight && getS(held, "owner") == c.owner {
		// The SDK retried this put after its answer was lost, and the first attempt had claimed the key.
		return c, nil, nil
	}
	if getS(held, "state") != stateDone {
		return nil, nil, problem.New(problem.IdempotencyKeyInUse, "A request with this Idempotency-Key is in progress; retry shortly.")
	}
	status, _ := strconv.Atoi(getN(held, "status"))
	return nil, &Response{Status: status, ContentType: getS(held, "contentType"), Body: getS(held, "body")}, nil
}

// CompleteItem returns the write that stores resp as the key's outcome, for the caller's transaction:
// the change, its audit record and the idempotency outcome then commit together.
func (s *Store) CompleteItem(c *Claim, resp Response) types.TransactWriteItem {
	return types.TransactWriteItem{Put: s.completePut(c, resp)}
}

func (s *Store) completePut(c *Claim, resp Response) *types.Put {
	now := s.Clock.Now()
	return &types.Put{
		TableName: aws.String(s.Table),
		Item: map[string]types.AttributeValue{
			resources.PK:        str(c.pk),
			resources.SK:        str(sortKey),
			"state":             str(stateDone),
			"requestHash":       str(c.hash),
			"status":            num(int64(resp.Status)),
			"contentType":       str(resp.ContentType),
			"body":              str(resp.Body),
			resources.ExpiresAt: num(now.Add(Window).Unix()),
		},
		// Only the holder of the claim may complete it: a request whose claim was taken over after its
		// lease (the same request, sent again) must not store its outcome over the new holder's, or
		// both would carry the request out. The new item has no owner, so it completes once.
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": str(c.owner)},
	}
}

// Release gives the key up after a failure that must not be replayed (a fault, a conflict), so the
// client's retry runs the request again.
func (s *Store) Release(ctx context.Context, c *Claim) error {
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table),
		Key:       map[string]types.AttributeValue{resources.PK: str(c.pk), resources.SK: str(sortKey)},
		// The owner, not the request's hash: the client's next try of the same request may have claimed
		// the key by the time the SDK retries a release whose answer was lost, and that claim is not ours.
		ConditionExpression:       aws.String("#state = :inflight AND #owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#state": "state", "#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":inflight": str(stateInFlight), ":owner": str(c.owner)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func getS(item map[string]types.AttributeValue, k string) string {
	if v, ok := item[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, k string) string {
	if v, ok := item[k].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}
