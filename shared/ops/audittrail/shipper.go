package audittrail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
)

// PutObjectAPI is the S3 call the shipper makes.
type PutObjectAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Observer is told what the trail does: the automated review evaluates its rules on every record
// once it is safely in a log file, and counts pipeline failures.
type Observer interface {
	Shipped(ctx context.Context, key string, recs []audit.Record)
	Failed(ctx context.Context, stage string, err error)
	// Flush publishes what the observer has aggregated (metrics), at the end of each invocation.
	Flush(ctx context.Context)
}

// Pipeline stages named in failures.
const (
	StageShip   = "ship"
	StageDecode = "decode"
	StageDigest = "digest"
	StageOutbox = "outbox"
	// StageReconcile is the check that every outbox record reached a log file.
	StageReconcile = "reconcile"
)

// Shipper writes the audit outbox's stream to log files in S3.
//
// Each invocation's records go into as few files as the size limits allow, never one object per
// record. A batch is acknowledged only once its records are in S3: when a PUT fails, the batch item
// failure names the first record not yet written, so Lambda retries from there. Records already in a
// file may then be written again; copies carry the same eventID, on which readers de-duplicate.
// Stream order across shards is not transaction order, so nothing here depends on order.
type Shipper struct {
	S3 PutObjectAPI
	Location
	// MaxRecords and MaxBytes bound one log file (uncompressed); 0 means the defaults.
	MaxRecords int
	MaxBytes   int
	Observer   Observer
	// Alert raises the alert of a record shipped masked (audit.Guard); nil logs it to Log with no metric.
	Alert *audit.Alerter
	// Ledger, if set, receives each file's version and hash for the digester.
	Ledger Ledger
	Log    *slog.Logger
	Clock  clock.Func

	puts, records atomic.Int64
}

// Default file bounds: large enough that a busy minute is one object, small enough to read back fast.
const (
	DefaultMaxRecords = 5000
	DefaultMaxBytes   = 8 << 20
)

// Stats reports the S3 PUTs made and records written since the shipper was built.
func (s *Shipper) Stats() (puts, records int64) { return s.puts.Load(), s.records.Load() }

// pending is one record on its way to a file.
type pending struct {
	seq string
	raw json.RawMessage
	rec audit.Record
	// alert is set when the record held a card number and is shipped masked (audit.Guard).
	alert bool
}

// Handle is the Lambda entry point for the audit table's stream.
func (s *Shipper) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	defer s.flushObserver(ctx)
	var batch []pending
	for _, r := range ev.Records {
		switch events.DynamoDBOperationType(r.EventName) {
		case events.DynamoDBOperationTypeRemove:
			continue // TTL expiry of the outbox copy; the log file is the durable record
		case events.DynamoDBOperationTypeInsert:
			if k := r.Change.NewImage[KindAttr]; k.DataType() == events.DataTypeString && k.String() == KindLogFile {
				continue // the shipper's own ledger record of a file it wrote
			}
		case events.DynamoDBOperationTypeModify:
			// Outbox items are written once and never updated: a change is tampering with the outbox.
			s.failed(ctx, StageOutbox, fmt.Errorf("audit outbox item changed after it was written (stream record %s)", r.Change.SequenceNumber))
			continue
		}
		p, err := decodeStreamRecord(r)
		if err != nil {
			// Lambda retries from this record and, after its retries, sends it to the failure destination.
			s.failed(ctx, StageDecode, err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			break
		}
		if p.alert {
			a := s.Alert
			if a == nil {
				a = &audit.Alerter{Log: s.Log}
			}
			a.CardNumberMasked(p.rec, "ship")
		}
		batch = append(batch, p)
	}
	// Records after an undecodable one are retried with it, so they are not written now.
	if len(resp.BatchItemFailures) > 0 {
		batch = batchBefore(batch, resp.BatchItemFailures[0].ItemIdentifier, ev)
	}
	for len(batch) > 0 {
		n := s.fileSize(batch)
		if err := s.write(ctx, batch[:n]); err != nil {
			s.failed(ctx, StageShip, err)
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: batch[0].seq}}}, nil
		}
		batch = batch[n:]
	}
	return resp, nil
}

// batchBefore keeps the records that precede the failed one in the event.
func batchBefore(batch []pending, failedSeq string, ev events.DynamoDBEvent) []pending {
	before := map[string]bool{}
	for _, r := range ev.Records {
		if r.Change.SequenceNumber == failedSeq {
			break
		}
		before[r.Change.SequenceNumber] = true
	}
	out := batch[:0]
	for _, p := range batch {
		if before[p.seq] {
			out = append(out, p)
		}
	}
	return out
}

func decodeStreamRecord(r events.DynamoDBEventRecord) (pending, error) {
	attr, ok := r.Change.NewImage["record"]
	if !ok || attr.DataType() != events.DataTypeString {
		return pending{}, fmt.Errorf("stream record %s has no record attribute", r.Change.SequenceNumber)
	}
	p, err := decodeRecord([]byte(attr.String()))
	if err != nil {
		return pending{}, fmt.Errorf("stream record %s: %w", r.Change.SequenceNumber, err)
	}
	p.seq = r.Change.SequenceNumber
	return p, nil
}

// decodeRecord reads an outbox item's record text, kept exactly as it was committed.
func decodeRecord(raw []byte) (pending, error) {
	var rec audit.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return pending{}, fmt.Errorf("decode audit record: %w", err)
	}
	if rec.EventID == "" || rec.EventTime == "" {
		return pending{}, fmt.Errorf("audit record without eventID or eventTime")
	}
	// The outbox writer already refuses card numbers; this catches an item written around it, so
	// that none ever reaches the Object Lock bucket, where it could not be deleted for a year.
	rec, check, err := audit.Guard(rec)
	if err != nil {
		return pending{}, err
	}
	if check.Masked {
		if raw, err = json.Marshal(rec); err != nil {
			return pending{}, fmt.Errorf("marshal masked audit record %s: %w", rec.EventID, err)
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return pending{}, fmt.Errorf("compact audit record %s: %w", rec.EventID, err)
	}
	return pending{raw: compact.Bytes(), rec: rec, alert: check.Alert}, nil
}

// ShipRecords writes outbox records (their record text) to log files, as Handle does for the stream.
func (s *Shipper) ShipRecords(ctx context.Context, raws [][]byte) error {
	batch := make([]pending, 0, len(raws))
	for _, raw := range raws {
		p, err := decodeRecord(raw)
		if err != nil {
			return err
		}
		batch = append(batch, p)
	}
	for len(batch) > 0 {
		n := s.fileSize(batch)
		if err := s.write(ctx, batch[:n]); err != nil {
			return err
		}
		batch = batch[n:]
	}
	return nil
}

// fileSize is how many of the leading records fit in one log file.
func (s *Shipper) fileSize(batch []pending) int {
	maxRecords, maxBytes := s.MaxRecords, s.MaxBytes
	if maxRecords <= 0 {
		maxRecords = DefaultMaxRecords
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	size := 0
	for i, p := range batch {
		size += len(p.raw) + 1
		if i > 0 && (i >= maxRecords || size > maxBytes) {
			return i
		}
	}
	return len(batch)
}

// EncodeLogFile renders records as an uncompressed log file.
func EncodeLogFile(raws []json.RawMessage) []byte {
	n := len(`{"Records":[]}`)
	for _, r := range raws {
		n += len(r) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, `{"Records":[`...)
	for i, r := range raws {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, r...)
	}
	return append(buf, "]}"...)
}

func (s *Shipper) write(ctx context.Context, batch []pending) error {
	raws := make([]json.RawMessage, len(batch))
	recs := make([]audit.Record, len(batch))
	for i, p := range batch {
		raws[i], recs[i] = p.raw, p.rec
	}
	key := s.LogKey(s.Clock.Now(), randomSuffix())
	body := EncodeLogFile(raws)
	out, err := putGzip(ctx, s.S3, s.Bucket, key, body, nil)
	if err != nil {
		return fmt.Errorf("write %d audit records to s3://%s/%s: %w", len(batch), s.Bucket, key, err)
	}
	if s.Ledger != nil {
		// A failure here fails the batch: its records are written again to another file, and this
		// one, without a record, is hashed by the digester as it finds it.
		var span eventSpan
		for _, r := range recs {
			span.add(r.EventTime)
		}
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.EventID
		}
		f := FileRecord{Key: key, VersionID: aws.ToString(out.VersionId), Hash: HashHex(body), Oldest: span.oldest, Newest: span.newest, EventIDs: ids}
		if err := s.Ledger.Record(ctx, f); err != nil {
			return err
		}
	}
	s.puts.Add(1)
	s.records.Add(int64(len(batch)))
	if s.Log != nil {
		s.Log.Debug("audit log file written", "key", key, "records", len(batch))
	}
	if s.Observer != nil {
		s.Observer.Shipped(ctx, key, recs)
	}
	return nil
}

// putGzip writes body gzipped. The audit bucket has Object Lock, which requires an integrity
// checksum on every PUT.
func putGzip(ctx context.Context, api PutObjectAPI, bucket, key string, body []byte, meta map[string]string) (*s3.PutObjectOutput, error) {
	return api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(Gzip(body)),
		ContentType:       aws.String("application/x-gzip"),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
		Metadata:          meta,
	})
}

func (s *Shipper) failed(ctx context.Context, stage string, err error) {
	if s.Log != nil {
		s.Log.Error("audit pipeline failure", "stage", stage, "error", err)
	}
	if s.Observer != nil {
		s.Observer.Failed(ctx, stage, err)
	}
}

func (s *Shipper) flushObserver(ctx context.Context) {
	if s.Observer != nil {
		s.Observer.Flush(ctx)
	}
}

// Close publishes what the observer still holds. The Lambda main calls it on SIGTERM; records need no
// flushing, because a batch is acknowledged only after its log files are written.
func (s *Shipper) Close() { s.flushObserver(context.Background()) }
