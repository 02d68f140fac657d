package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Retention is how long a record stays in the outbox table. The S3 log files are the durable trail
// (12 months, Object Lock); the table keeps a year and a month for the query API.
const Retention = 395 * 24 * time.Hour

// PutItemAPI is the DynamoDB call the store needs to write a record on its own.
type PutItemAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Store writes records to the audit outbox table. Every record passes Guard first: one that holds a
// card number is stored masked and Alert raises the alert.
type Store struct {
	DB    PutItemAPI
	Table string
	// Alert raises the alert of a masked record; nil logs it to slog.Default() with no metric.
	Alert *Alerter
}

// guarded is rec as it may be stored, after the last check.
func (s *Store) guarded(rec Record) (map[string]types.AttributeValue, error) {
	rec, body, c, err := guard(rec)
	if c.Alert {
		s.Alert.CardNumberMasked(rec, "write")
	}
	if err != nil {
		return nil, err
	}
	return item(rec, body)
}

// Attribute names of an outbox item besides the keys in package resources. The query API filters on
// the exported ones.
const (
	AttrRecord    = attrRecord
	AttrPrincipal = attrPrincipal
	AttrEventName = attrEventName

	attrRecord    = "record"
	attrPrincipal = "principal"
	attrEventName = "eventName"
	attrEventTime = "eventTime"
)

// Item renders rec as an outbox item. The whole record is kept as its JSON text so the shipper writes
// exactly what was committed; a few fields are copied out for the query index.
func Item(rec Record) (map[string]types.AttributeValue, error) {
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("marshal audit record %s: %w", rec.EventID, err)
	}
	return item(rec, body)
}

// item renders rec, whose JSON is body, as an outbox item.
func item(rec Record, body []byte) (map[string]types.AttributeValue, error) {
	t, err := time.Parse(time.RFC3339, rec.EventTime)
	if err != nil {
		return nil, fmt.Errorf("audit record %s: event time %q: %w", rec.EventID, rec.EventTime, err)
	}
	return map[string]types.AttributeValue{
		resources.AuditEventID: &types.AttributeValueMemberS{Value: rec.EventID},
		resources.AuditDay:     &types.AttributeValueMemberS{Value: t.UTC().Format(time.DateOnly)},
		resources.AuditSortKey: &types.AttributeValueMemberS{Value: sortKey(rec)},
		attrEventTime:          &types.AttributeValueMemberS{Value: rec.EventTime},
		attrEventName:          &types.AttributeValueMemberS{Value: rec.EventName},
		attrPrincipal:          &types.AttributeValueMemberS{Value: principalOf(rec)},
		attrRecord:             &types.AttributeValueMemberS{Value: string(body)},
		resources.ExpiresAt:    &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Add(Retention).Unix(), 10)},
	}, nil
}

// sortKey orders records in the by-time index: the event time, then the moment the record was written
// (Unix nanoseconds), then the event ID. Event times have whole seconds (as CloudTrail's), so without
// the middle part records of one second would list in random order rather than newest first. The
// moment is written as seconds.nanoseconds (fixed width, so it sorts as it counts): a 19 digit run
// would look like a card number to every scan for them one time in ten.
func sortKey(rec Record) string {
	now := time.Now()
	return fmt.Sprintf("%s#%010d.%09d#%s", rec.EventTime, now.Unix(), now.Nanosecond(), rec.EventID)
}

func principalOf(rec Record) string {
	if rec.UserIdentity.PrincipalID != "" {
		return rec.UserIdentity.PrincipalID
	}
	return "anonymous"
}

// TransactItem returns rec as a put for the caller's TransactWriteItems, so a change and its record
// commit together or not at all. The condition makes a reused event ID fail instead of overwrite.
func (s *Store) TransactItem(rec Record) (types.TransactWriteItem, error) {
	item, err := s.guarded(rec)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:           aws.String(s.Table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(" + resources.AuditEventID + ")"),
	}}, nil
}

// Put writes rec on its own: for reads and denials, which change nothing, before the response goes out.
func (s *Store) Put(ctx context.Context, rec Record) error {
	item, err := s.guarded(rec)
	if err != nil {
		return err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.Table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(" + resources.AuditEventID + ")"),
	})
	// The SDK retries a put whose answer was lost (a connection reset after DynamoDB wrote it); the
	// retry then meets the record the first attempt wrote. Event IDs are 128 random bits, so a record
	// already there under this ID is this one: it is written once, which is what the caller asked.
	var exists *types.ConditionalCheckFailedException
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write audit record %s to %s: %w", rec.EventID, s.Table, err)
	}
	return nil
}

// Decode reads a record back from an outbox item (the query API uses it), masked by Guard.
func Decode(item map[string]types.AttributeValue) (Record, error) {
	s, ok := item[attrRecord].(*types.AttributeValueMemberS)
	if !ok {
		return Record{}, fmt.Errorf("audit item has no %q attribute", attrRecord)
	}
	var rec Record
	if err := json.Unmarshal([]byte(s.Value), &rec); err != nil {
		return Record{}, fmt.Errorf("decode audit record: %w", err)
	}
	// An item written around the Store (by hand, or before its last check existed) is read masked.
	rec, _, err := Guard(rec)
	return rec, err
}
