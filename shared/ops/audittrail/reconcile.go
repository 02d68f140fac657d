package audittrail

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// QueryAPI queries the audit table's by-time index.
type QueryAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Reconciler finds the outbox records that are in no log file and ships them. The stream drops a batch
// after its retries (only its shard and sequence numbers reach the failure queue), so without this an
// S3 outage longer than the retries would lose records. Records younger than Grace may still be on
// their way through the stream and are left to it, so nothing is shipped twice.
type Reconciler struct {
	DB      QueryAPI
	Table   string
	S3      ReadAPI
	Ledger  Ledger
	Shipper *Shipper
	Location
	// Grace is the age from which a record not in a log file counts as dropped (default
	// DefaultGrace); Lookback how far back records are checked (default DefaultLookback).
	Grace, Lookback time.Duration
}

// StreamMaxRecordAge is the event source mapping's MaximumRecordAge: the stream gives up a record
// older than this (and its retries end sooner, 10 of them).
const StreamMaxRecordAge = resources.AuditStreamMaxRecordAge

// Defaults of the reconciler: the grace outlasts the stream's maximum record age and a shipper run
// (its timeout is 2 minutes), so a record the reconciler ships is one the stream gave up; every hourly
// run checks each record more than once before it leaves the window.
const (
	DefaultGrace    = StreamMaxRecordAge + 15*time.Minute
	DefaultLookback = 4 * time.Hour
)

// ReconcileResult says what a run found.
type ReconcileResult struct {
	// Checked counts the records in the window; Shipped those that were in no log file.
	Checked, Shipped int
	// Oldest is the event time of the oldest record shipped ("" when none was).
	Oldest string
}

// Run checks the records with event times in [at-Lookback, at-Grace) against the log files delivered
// since at-Lookback, and ships the missing ones.
func (r *Reconciler) Run(ctx context.Context, at time.Time) (ReconcileResult, error) {
	grace, lookback := r.Grace, r.Lookback
	if grace == 0 {
		grace = DefaultGrace
	}
	if lookback == 0 {
		lookback = DefaultLookback
	}
	from, to := at.Add(-lookback).UTC(), at.Add(-grace).UTC()
	records, err := r.records(ctx, from, to)
	if err != nil {
		return ReconcileResult{}, err
	}
	res := ReconcileResult{Checked: len(records)}
	if len(records) == 0 {
		return res, nil
	}
	// Files are named for their delivery, after their records' event times (a lag's margin for clocks).
	shipped, err := r.shippedIDs(ctx, from.Add(-DefaultLag), at)
	if err != nil {
		return res, err
	}
	var ids []string
	for id := range records {
		if !shipped[id] {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return res, nil
	}
	sort.Strings(ids)
	raws := make([][]byte, len(ids))
	for i, id := range ids {
		raws[i] = records[id].raw
		if t := records[id].eventTime; res.Oldest == "" || t < res.Oldest {
			res.Oldest = t
		}
	}
	if err := r.Shipper.ShipRecords(ctx, raws); err != nil {
		return res, fmt.Errorf("ship %d audit records the stream dropped: %w", len(raws), err)
	}
	res.Shipped = len(ids)
	return res, nil
}

type outboxRecord struct {
	raw       []byte
	eventTime string
}

// records reads the outbox records with event times in [from, to) from the by-time index.
func (r *Reconciler) records(ctx context.Context, from, to time.Time) (map[string]outboxRecord, error) {
	out := map[string]outboxRecord{}
	for day := from.Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		p := dynamodb.NewQueryPaginator(r.DB, &dynamodb.QueryInput{
			TableName:              aws.String(r.Table),
			IndexName:              aws.String(resources.AuditByTime),
			KeyConditionExpression: aws.String("#day = :day AND #key BETWEEN :from AND :to"),
			ExpressionAttributeNames: map[string]string{
				"#day": resources.AuditDay, "#key": resources.AuditSortKey,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":day":  &types.AttributeValueMemberS{Value: day.Format(time.DateOnly)},
				":from": &types.AttributeValueMemberS{Value: from.Format(time.RFC3339)},
				// Sort keys start with the event time; "#" sorts before any digit that follows.
				":to": &types.AttributeValueMemberS{Value: to.Add(-time.Second).Format(time.RFC3339) + "#~"},
			},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("query audit records of %s: %w", day.Format(time.DateOnly), err)
			}
			for _, item := range page.Items {
				raw, _ := item["record"].(*types.AttributeValueMemberS)
				t, _ := item["eventTime"].(*types.AttributeValueMemberS)
				if raw == nil || t == nil {
					continue
				}
				out[str(item[resources.AuditEventID])] = outboxRecord{raw: []byte(raw.Value), eventTime: t.Value}
			}
		}
	}
	return out, nil
}

// shippedIDs are the event IDs in the log files delivered in [from, to]: from the shipper's ledger,
// or read from a file it has no record of.
func (r *Reconciler) shippedIDs(ctx context.Context, from, to time.Time) (map[string]bool, error) {
	versions, err := listVersionsByDay(ctx, r.S3, r.Bucket, r.LogDayPrefix, from, to)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k, kv := range versions {
		if _, ok := LogKeyTime(k); ok && len(kv.versions) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	ledger, err := r.Ledger.Lookup(ctx, keys, true)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, k := range keys {
		ids := ledger[k].EventIDs
		if _, ok := ledger[k]; !ok {
			obj, err := getObjectVersion(ctx, r.S3, r.Bucket, k, versions[k].versions[0])
			if err != nil {
				return nil, fmt.Errorf("read log file to reconcile: %w", err)
			}
			body, err := Gunzip(obj.body)
			if err != nil {
				continue
			}
			if ids, _, _, err = ParseLogFile(body); err != nil {
				continue
			}
		}
		for _, id := range ids {
			out[id] = true
		}
	}
	return out, nil
}
