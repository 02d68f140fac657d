package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
	trailwiring "github.com/vaultbill/vaultbill/shared/wiring/audittrail"
)

// StreamsAPI is the DynamoDB Streams calls the local event source mapping makes.
type StreamsAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// DescribeTableAPI finds the table's stream.
type DescribeTableAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// AuditWorkers run locally what AWS runs for the audit trail: the event source mapping that feeds
// the audit table's stream to the shipper (polling, batching, retrying from the failed record), and
// the hourly schedule of the digest.
type AuditWorkers struct {
	Shipper *audittrail.Shipper
	Digest  *audittrail.Hourly
	Streams StreamsAPI
	DB      DescribeTableAPI
	Table   string
	// Clock is the time the digest schedule fires at (tests simulate hours with it).
	Clock func() time.Time
	// BatchSize is the most records handed to the shipper at once, as the event source's BatchSize.
	BatchSize int32
	Log       *slog.Logger
	// MaxRetries is how often a failed batch is retried before it is dropped, as the event source
	// mapping's MaximumRetryAttempts (10 in AWS): the digest's reconciliation then ships its records.
	MaxRetries int
	// PositionFile, if set, keeps the stream positions across restarts, as the event source mapping
	// keeps its own: without it a new consumer starts at the oldest record and ships them all again.
	PositionFile string

	mu        sync.Mutex // one poll at a time, as Lambda runs one batch per shard at a time
	streamARN string
	// positions are, per shard, where the next batch starts: after the last acknowledged record, or
	// at the record the shipper reported as failed.
	positions map[string]position
	// retries counts the failed attempts at each shard's current batch.
	retries map[string]int
	cancel  context.CancelFunc
	done    chan struct{}
}

type position struct {
	typ stypes.ShardIteratorType
	seq string
}

func newAuditWorkers(s *Stack) (*AuditWorkers, error) {
	env, shipperEnv := s.Env, s.FunctionEnv("audit-shipper")
	shipper, err := trailwiring.Shipper(shipperEnv)
	if err != nil {
		return nil, err
	}
	digest, err := trailwiring.Digest(s.FunctionEnv("audit-digest"))
	if err != nil {
		return nil, err
	}
	w := &AuditWorkers{
		Shipper: shipper, Digest: digest,
		// The event source mapping reads the stream with the shipper's role; finding the stream
		// (DescribeTable) is the local stand-in for the template naming it.
		Streams: dynamodbstreams.NewFromConfig(shipperEnv.AWS), DB: dynamodb.NewFromConfig(env.AWS),
		Table: env.Config.AuditTable, Clock: time.Now, BatchSize: 1000, MaxRetries: 10, Log: env.Log,
		positions: map[string]position{}, retries: map[string]int{},
	}
	digest.Clock = func() time.Time { return w.Clock() }
	return w, nil
}

// Start polls the stream every poll and runs the digest every digest, until Stop.
func (w *AuditWorkers) Start(poll, digest time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		pt, dt := time.NewTicker(poll), time.NewTicker(digest)
		defer pt.Stop()
		defer dt.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-pt.C:
				if _, err := w.ShipNow(ctx); err != nil && ctx.Err() == nil {
					w.Log.Error("audit stream poll failed", "error", err)
				}
			case <-dt.C:
				if _, err := w.DigestNow(ctx); err != nil && ctx.Err() == nil {
					w.Log.Error("audit digest failed", "error", err)
				}
			}
		}
	}()
}

// Stop ends the schedules and ships what the stream still holds, as a draining Lambda would.
func (w *AuditWorkers) Stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
	w.cancel = nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.ShipNow(ctx); err != nil {
		w.Log.Error("final audit stream poll failed", "error", err)
	}
	w.Shipper.Close()
}

// DigestNow writes the digest for the time since the last one, as the hourly schedule does.
func (w *AuditWorkers) DigestNow(ctx context.Context) (audittrail.DigestResult, error) {
	return w.Digest.Handle(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events", Time: w.Clock()})
}

// ShipNow hands every record waiting in the stream to the shipper, batch by batch, and returns how
// many it acknowledged. A batch the shipper reports as partly failed is retried from the failed
// record on the next call, as Lambda retries it.
func (w *AuditWorkers) ShipNow(ctx context.Context) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.streamARN == "" {
		out, err := w.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(w.Table)})
		if err != nil {
			return 0, fmt.Errorf("describe %s: %w", w.Table, err)
		}
		if out.Table.LatestStreamArn == nil {
			return 0, fmt.Errorf("table %s has no stream", w.Table)
		}
		w.streamARN = *out.Table.LatestStreamArn
		if err := w.loadPositions(); err != nil {
			return 0, err
		}
	}
	desc, err := w.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(w.streamARN)})
	if err != nil {
		return 0, fmt.Errorf("describe stream of %s: %w", w.Table, err)
	}
	total := 0
	for _, sh := range desc.StreamDescription.Shards {
		n, err := w.drainShard(ctx, aws.ToString(sh.ShardId))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// errRetryLater stops a shard's drain after a failed batch; the next poll retries it.
var errRetryLater = errors.New("batch failed; retrying on the next poll")

// errDropped reports a batch given up after its retries.
var errDropped = errors.New("batch dropped after its retries; the digest's reconciliation ships its records")

func (w *AuditWorkers) drainShard(ctx context.Context, shard string) (int, error) {
	total := 0
	for {
		pos, ok := w.positions[shard]
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(w.streamARN), ShardId: aws.String(shard), ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon}
		if ok {
			in.ShardIteratorType, in.SequenceNumber = pos.typ, aws.String(pos.seq)
		}
		it, err := w.Streams.GetShardIterator(ctx, in)
		if err != nil {
			return total, fmt.Errorf("shard iterator of %s: %w", shard, err)
		}
		out, err := w.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(w.BatchSize)})
		if err != nil {
			return total, fmt.Errorf("read stream shard %s: %w", shard, err)
		}
		if len(out.Records) == 0 {
			return total, nil
		}
		ev := streamEvent(out.Records, w.streamARN)
		resp, err := w.Shipper.Handle(ctx, ev)
		if err != nil {
			return total, fmt.Errorf("audit shipper: %w", err)
		}
		if len(resp.BatchItemFailures) > 0 && w.MaxRetries > 0 && w.retries[shard] >= w.MaxRetries {
			// Out of retries: the batch is dropped, as Lambda drops it (its shard and sequence numbers
			// go to the failure queue); the reconciliation ships its records later.
			last := ev.Records[len(ev.Records)-1].Change.SequenceNumber
			w.Log.Error("audit stream batch dropped after its retries", "shard", shard,
				"first_sequence", ev.Records[0].Change.SequenceNumber, "last_sequence", last, "retries", w.retries[shard])
			delete(w.retries, shard)
			w.positions[shard] = position{typ: stypes.ShardIteratorTypeAfterSequenceNumber, seq: last}
			if err := w.savePositions(); err != nil {
				return total, err
			}
			return total, errDropped
		}
		if len(resp.BatchItemFailures) > 0 {
			w.retries[shard]++
			failed := resp.BatchItemFailures[0].ItemIdentifier
			for _, r := range ev.Records {
				if r.Change.SequenceNumber == failed {
					break
				}
				total++
			}
			w.positions[shard] = position{typ: stypes.ShardIteratorTypeAtSequenceNumber, seq: failed}
			if err := w.savePositions(); err != nil {
				return total, err
			}
			return total, errRetryLater
		}
		total += len(ev.Records)
		delete(w.retries, shard)
		w.positions[shard] = position{typ: stypes.ShardIteratorTypeAfterSequenceNumber, seq: ev.Records[len(ev.Records)-1].Change.SequenceNumber}
		if err := w.savePositions(); err != nil {
			return total, err
		}
	}
}

// savedPositions is the position file: the stream they belong to (a recreated table has a new one,
// whose records all need shipping) and, per shard, where the next batch starts.
type savedPositions struct {
	StreamARN string                   `json:"streamArn"`
	Shards    map[string]savedPosition `json:"shards"`
}

type savedPosition struct {
	Type     stypes.ShardIteratorType `json:"type"`
	Sequence string                   `json:"sequenceNumber"`
}

func (w *AuditWorkers) loadPositions() error {
	if w.PositionFile == "" {
		return nil
	}
	b, err := os.ReadFile(w.PositionFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read audit stream positions: %w", err)
	}
	var sp savedPositions
	if err := json.Unmarshal(b, &sp); err != nil {
		return fmt.Errorf("audit stream positions in %s: %w", w.PositionFile, err)
	}
	if sp.StreamARN != w.streamARN {
		return nil
	}
	for shard, p := range sp.Shards {
		w.positions[shard] = position{typ: p.Type, seq: p.Sequence}
	}
	return nil
}

// savePositions writes the positions after each batch, through a rename so a crash leaves the old
// file or the new one: at worst one batch is shipped again, and readers de-duplicate on eventID.
func (w *AuditWorkers) savePositions() error {
	if w.PositionFile == "" {
		return nil
	}
	sp := savedPositions{StreamARN: w.streamARN, Shards: map[string]savedPosition{}}
	for shard, p := range w.positions {
		sp.Shards[shard] = savedPosition{Type: p.typ, Sequence: p.seq}
	}
	b, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	tmp := w.PositionFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save audit stream positions: %w", err)
	}
	if err := os.Rename(tmp, w.PositionFile); err != nil {
		return fmt.Errorf("save audit stream positions: %w", err)
	}
	return nil
}

// streamEvent renders stream records as the DynamoDBEvent Lambda delivers.
func streamEvent(recs []stypes.Record, arn string) events.DynamoDBEvent {
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, len(recs))}
	for _, r := range recs {
		e := events.DynamoDBEventRecord{
			AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
			EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceArn: arn,
		}
		if d := r.Dynamodb; d != nil {
			e.Change = events.DynamoDBStreamRecord{
				Keys: attrs(d.Keys), NewImage: attrs(d.NewImage), OldImage: attrs(d.OldImage),
				SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes),
				StreamViewType: string(d.StreamViewType),
			}
			if d.ApproximateCreationDateTime != nil {
				e.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
			}
		}
		ev.Records = append(ev.Records, e)
	}
	return ev
}

func attrs(m map[string]stypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = attr(v)
	}
	return out
}

func attr(v stypes.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *stypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *stypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *stypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *stypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *stypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *stypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *stypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *stypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, x := range v.Value {
			l[i] = attr(x)
		}
		return events.NewListAttribute(l)
	case *stypes.AttributeValueMemberM:
		return events.NewMapAttribute(attrs(v.Value))
	default:
		return events.NewNullAttribute()
	}
}
