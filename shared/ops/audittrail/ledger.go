package audittrail

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// FileRecord is the shipper's own account of a log file it wrote: the S3 version its PUT created and
// the SHA-256 of the uncompressed content it sent. The digester lists these rather than what it finds
// in S3, so a file replaced between its delivery and the next digest is still caught: its current
// content no longer has the hash the digest lists.
type FileRecord struct {
	Key, VersionID, Hash string
	// Oldest and Newest are the event times the file spans.
	Oldest, Newest string
	// EventIDs are the file's records, for the reconciler (Lookup returns them only when asked).
	EventIDs []string
}

// Ledger keeps the shipper's FileRecords for the digester.
type Ledger interface {
	Record(ctx context.Context, f FileRecord) error
	// Lookup returns the records of those keys that have one, with their event IDs if withIDs.
	Lookup(ctx context.Context, keys []string, withIDs bool) (map[string]FileRecord, error)
}

// LedgerDB is the DynamoDB calls of TableLedger.
type LedgerDB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Ledger items live in the audit table beside the outbox records, keyed "logfile#<S3 key>" and
// marked with KindAttr. They carry no auditDay, so the by-time index (the query API) never lists
// them, and the shipper skips them on the table's stream.
const (
	LedgerKeyPrefix = resources.AuditLedgerKeyPrefix
	KindAttr        = "kind"
	KindLogFile     = "logfile"
	// LedgerRetention outlives any digest delay the pipeline alarms leave unnoticed.
	LedgerRetention = 35 * 24 * time.Hour
)

// TableLedger keeps FileRecords in the audit table.
type TableLedger struct {
	DB    LedgerDB
	Table string
}

// Record writes f once: the condition makes a second record for the same key fail rather than
// replace the first.
func (l TableLedger) Record(ctx context.Context, f FileRecord) error {
	_, err := l.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(l.Table),
		Item: map[string]types.AttributeValue{
			resources.AuditEventID: &types.AttributeValueMemberS{Value: LedgerKeyPrefix + f.Key},
			KindAttr:               &types.AttributeValueMemberS{Value: KindLogFile},
			"versionId":            &types.AttributeValueMemberS{Value: f.VersionID},
			"hashValue":            &types.AttributeValueMemberS{Value: f.Hash},
			"oldestEventTime":      &types.AttributeValueMemberS{Value: f.Oldest},
			"newestEventTime":      &types.AttributeValueMemberS{Value: f.Newest},
			// One string rather than a string set: smaller, and cheaper to write and read back.
			"eventIDs":          &types.AttributeValueMemberS{Value: strings.Join(f.EventIDs, ",")},
			resources.ExpiresAt: &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(LedgerRetention).Unix(), 10)},
		},
		ConditionExpression:                 aws.String("attribute_not_exists(" + resources.AuditEventID + ")"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	// The SDK retries a put whose answer was lost (a connection reset after DynamoDB wrote it), and the
	// retry meets the first attempt's item. That item, with this file's version and hash, is this
	// record: it is written once, as asked. Any other item under the key is a conflict.
	var exists *types.ConditionalCheckFailedException
	if errors.As(err, &exists) && sameFile(exists.Item, f) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record log file %s in %s: %w", f.Key, l.Table, err)
	}
	return nil
}

func sameFile(item map[string]types.AttributeValue, f FileRecord) bool {
	v, vok := item["versionId"].(*types.AttributeValueMemberS)
	h, hok := item["hashValue"].(*types.AttributeValueMemberS)
	return vok && hok && v.Value == f.VersionID && h.Value == f.Hash
}

// Lookup reads the records of keys, 100 per call (BatchGetItem's limit).
func (l TableLedger) Lookup(ctx context.Context, keys []string, withIDs bool) (map[string]FileRecord, error) {
	out := map[string]FileRecord{}
	ka0 := types.KeysAndAttributes{ConsistentRead: aws.Bool(true)}
	if !withIDs {
		// The digester needs a few short attributes, not up to a file's worth of event IDs.
		ka0.ProjectionExpression = aws.String("#id, versionId, hashValue, oldestEventTime, newestEventTime")
		ka0.ExpressionAttributeNames = map[string]string{"#id": resources.AuditEventID}
	}
	for len(keys) > 0 {
		n := min(len(keys), 100)
		req := map[string]types.KeysAndAttributes{l.Table: ka0}
		ka := req[l.Table]
		for _, k := range keys[:n] {
			ka.Keys = append(ka.Keys, map[string]types.AttributeValue{resources.AuditEventID: &types.AttributeValueMemberS{Value: LedgerKeyPrefix + k}})
		}
		req[l.Table] = ka
		keys = keys[n:]
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt == 10 {
				return nil, errors.New("read log file records: unprocessed keys after 10 attempts")
			}
			resp, err := l.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read log file records from %s: %w", l.Table, err)
			}
			for _, item := range resp.Responses[l.Table] {
				f := FileRecord{
					VersionID: str(item["versionId"]), Hash: str(item["hashValue"]),
					Oldest: str(item["oldestEventTime"]), Newest: str(item["newestEventTime"]),
				}
				f.Key = strings.TrimPrefix(str(item[resources.AuditEventID]), LedgerKeyPrefix)
				if ids := str(item["eventIDs"]); ids != "" {
					f.EventIDs = strings.Split(ids, ",")
				}
				out[f.Key] = f
			}
			req = resp.UnprocessedKeys
		}
	}
	return out, nil
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
