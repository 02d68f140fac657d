package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/vaultbill/vaultbill/shared/audit"
	"github.com/vaultbill/vaultbill/shared/provision"
)

// ErrTableExists reports a restore target that already exists: a restore never writes into an
// existing table.
var ErrTableExists = errors.New("table already exists")

// ErrMismatch reports restored data that does not match its manifest (count or checksum).
var ErrMismatch = errors.New("restored data does not match the backup manifest")

// Latest is the RestoreRequest.From value that picks the newest complete backup.
const Latest = "latest"

// RestoreRequest asks for one table's backup to be restored into a new table.
type RestoreRequest struct {
	// Source is the logical table (billing, vault, audit).
	Source string
	// From is a backup id, or Latest.
	From string
	// Table is the name of the table to create. It must not exist.
	Table string
	// scratch restores for the restore test: no stream, no TTL.
	scratch bool
}

// RestoreResult describes a finished restore.
type RestoreResult struct {
	Source, BackupID, Table string
	Items, Bytes            int64
	Parts                   int
	Duration                time.Duration
	// manifest is the verified manifest the table was restored from.
	manifest *Manifest
}

// Tuning of restores.
const (
	batchSize      = 25 // BatchWriteItem's limit
	restoreReaders = 4  // parts fetched, verified and decoded at once
	restoreWriters = 8  // BatchWriteItem calls in flight
	maxBatchTries  = 10
)

// Restore restores a backup into a new table, verifies it against the manifest (part hashes, item
// count, the all-items checksum, then a rescan of the new table), and writes an audit record. On any
// failure the new table is deleted: nothing half-restored is left behind.
func (r *Runner) Restore(ctx context.Context, req RestoreRequest) (RestoreResult, error) {
	res, err := r.restore(ctx, req)
	params := map[string]string{"source": req.Source, "from": req.From, "table": req.Table}
	elems := map[string]string{"backupId": res.BackupID, "items": strconv.FormatInt(res.Items, 10), "outcome": outcome(err)}
	rec := r.record(EventRestore, false, params, elems, err, audit.Resource{Type: "AWS::DynamoDB::Table", ID: req.Table})
	// A restore that succeeded stands even if its record cannot be written (the audit table may be the
	// one being restored); writeAudit has logged the alert.
	_ = r.writeAudit(ctx, rec)
	if err != nil && !errors.Is(err, ErrTableExists) { // a refusal is not a failed restore
		r.log().Error("ALERT: restore failed", "alert", true, "source", req.Source, "from", req.From, "table", req.Table, "error", err)
	}
	return res, err
}

func (r *Runner) restore(ctx context.Context, req RestoreRequest) (res RestoreResult, err error) {
	start := time.Now()
	res = RestoreResult{Source: req.Source, Table: req.Table}
	src, err := r.Source(req.Source)
	if err != nil {
		return res, err
	}
	if req.Table == "" {
		return res, fmt.Errorf("name the table to restore into")
	}
	id := req.From
	if id == "" || id == Latest {
		if id, err = r.Latest(ctx, req.Source); err != nil {
			return res, err
		}
	}
	res.BackupID = id
	m, key, err := r.verifiedManifest(ctx, req.Source, id)
	if err != nil {
		return res, err
	}
	if err := r.createTable(ctx, src, req); err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			r.dropTable(ctx, req.Table)
		}
	}()
	if err := r.load(ctx, m, key, req.Table); err != nil {
		return res, err
	}
	if err := r.verifyTable(ctx, m, req.Table); err != nil {
		return res, err
	}
	if !req.scratch && src.Def.TTLAttribute != "" {
		if _, err := r.DB.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               aws.String(req.Table),
			TimeToLiveSpecification: &dtypes.TimeToLiveSpecification{AttributeName: aws.String(src.Def.TTLAttribute), Enabled: aws.Bool(true)},
		}); err != nil {
			return res, fmt.Errorf("enable TTL on %s: %w", req.Table, err)
		}
	}
	if _, err := r.reapplyErasures(ctx, req); err != nil {
		return res, err
	}
	res.Items, res.Bytes, res.Parts, res.Duration = m.ItemCount, m.Bytes, len(m.Parts), time.Since(start)
	res.manifest = m
	r.log().Info("table restored", "source", req.Source, "backup_id", id, "table", req.Table, "items", m.ItemCount, "duration_ms", res.Duration.Milliseconds())
	return res, nil
}

// verifiedManifest reads and authenticates a manifest and checks, before anything is written, that
// every part it lists is in the bucket with its recorded size and that its counts add up.
func (r *Runner) verifiedManifest(ctx context.Context, table, id string) (*Manifest, *dataKey, error) {
	m, err := r.readManifest(ctx, table, id)
	if err != nil {
		return nil, nil, err
	}
	key, err := r.openManifest(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	var items int64
	for _, p := range m.Parts {
		items += p.Items
	}
	if items != m.ItemCount {
		return nil, nil, fmt.Errorf("backup %s/%s: manifest counts %d items but its parts hold %d: %w", table, id, m.ItemCount, items, ErrMismatch)
	}
	l, err := r.list(ctx, table)
	if err != nil {
		return nil, nil, err
	}
	prefix := backupPrefix(table, id)
	for _, p := range m.Parts {
		size, ok := l.objects[id][p.Key[len(prefix):]]
		if len(p.Key) <= len(prefix) || p.Key[:len(prefix)] != prefix {
			return nil, nil, fmt.Errorf("backup %s/%s: part %s lies outside the backup: %w", table, id, p.Key, ErrTampered)
		}
		if !ok {
			return nil, nil, fmt.Errorf("backup %s/%s: part %s is missing: %w", table, id, p.Key, ErrIncomplete)
		}
		if size != p.Size {
			return nil, nil, fmt.Errorf("backup %s/%s: part %s is %d bytes, manifest says %d: %w", table, id, p.Key, size, p.Size, ErrTampered)
		}
	}
	return m, key, nil
}

func (r *Runner) createTable(ctx context.Context, src Source, req RestoreRequest) error {
	if _, err := r.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(req.Table)}); err == nil {
		return fmt.Errorf("table %s: %w; a restore never writes into an existing table: choose a new name", req.Table, ErrTableExists)
	} else if !isCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("describe table %s: %w", req.Table, err)
	}
	in := provision.CreateTableInput(src.Def, req.Table, src.TableKeyID)
	if req.scratch {
		in.StreamSpecification = nil // nothing consumes a scratch table's changes
	}
	if _, err := r.DB.CreateTable(ctx, in); err != nil {
		if isCode(err, "ResourceInUseException") {
			return fmt.Errorf("table %s: %w; a restore never writes into an existing table: choose a new name", req.Table, ErrTableExists)
		}
		return fmt.Errorf("create table %s: %w", req.Table, err)
	}
	w := dynamodb.NewTableExistsWaiter(r.DB, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay, o.MaxDelay = time.Second, 10*time.Second })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(req.Table)}, 10*time.Minute); err != nil {
		r.dropTable(ctx, req.Table)
		return fmt.Errorf("wait for table %s: %w", req.Table, err)
	}
	return nil
}

// dropTable deletes a table this restore created, even if ctx is already cancelled.
func (r *Runner) dropTable(ctx context.Context, table string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, err := r.DB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil && !isCode(err, "ResourceNotFoundException") {
		r.log().Error("ALERT: could not delete a restored table; delete it by hand", "alert", true, "table", table, "error", err)
		return
	}
	r.log().Info("deleted restored table", "table", table)
}

// load reads, verifies and decodes the parts and writes their items into table.
func (r *Runner) load(ctx context.Context, m *Manifest, key *dataKey, table string) error {
	meter := &Meter{Table: m.Table, Phase: "restore", TotalItems: m.ItemCount, TotalParts: int64(len(m.Parts))}
	r.observe(meter, false)
	defer r.observe(meter, true)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	parts := make(chan Part)
	batches := make(chan []map[string]dtypes.AttributeValue, restoreWriters*2)
	var (
		mu            sync.Mutex
		sum           Checksum
		items, nbytes int64
		readers       sync.WaitGroup
		writers       sync.WaitGroup
	)
	fail := func(err error) { cancel(err) }
	for range restoreReaders {
		readers.Go(func() {
			for p := range parts {
				n, size, s, err := r.readPart(ctx, key, p, batches)
				if err != nil {
					fail(err)
					return
				}
				if n != p.Items {
					fail(fmt.Errorf("part %s holds %d items, manifest says %d: %w", p.Key, n, p.Items, ErrMismatch))
					return
				}
				mu.Lock()
				sum.Merge(s)
				items += n
				nbytes += size
				mu.Unlock()
				meter.Parts.Add(1)
			}
		})
	}
	for range restoreWriters {
		writers.Go(func() {
			for b := range batches {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := r.writeBatch(ctx, table, b); err != nil {
					fail(err)
					continue
				}
				meter.Items.Add(int64(len(b)))
			}
		})
	}
	go func() {
		defer close(parts)
		for _, p := range m.Parts {
			select {
			case parts <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	readers.Wait()
	close(batches)
	writers.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("restore %s/%s into %s: %w", m.Table, m.ID, table, err)
	}
	meter.Bytes.Store(nbytes)
	if items != m.ItemCount || sum.String() != m.Checksum {
		return fmt.Errorf("restore %s/%s: read %d items with checksum %s, manifest says %d items, %s: %w",
			m.Table, m.ID, items, sum, m.ItemCount, m.Checksum, ErrMismatch)
	}
	return nil
}

// readPart fetches one part, checks its hash, opens it and sends its items in batches.
func (r *Runner) readPart(ctx context.Context, key *dataKey, p Part, out chan<- []map[string]dtypes.AttributeValue) (n, size int64, sum Checksum, err error) {
	sealed, err := r.get(ctx, p.Key)
	if err != nil {
		return 0, 0, sum, err
	}
	if hexSHA256(sealed) != p.SHA256 {
		return 0, 0, sum, fmt.Errorf("part %s does not match its SHA-256 in the manifest: %w", p.Key, ErrTampered)
	}
	plain, err := key.open(p.Key, sealed)
	if err != nil {
		return 0, 0, sum, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(plain))
	if err != nil {
		return 0, 0, sum, fmt.Errorf("part %s: %w", p.Key, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64<<10), 2<<20) // an item is at most 400 KB; its JSON less than 2 MiB
	batch := make([]map[string]dtypes.AttributeValue, 0, batchSize)
	send := func() error {
		select {
		case out <- batch:
			batch = make([]map[string]dtypes.AttributeValue, 0, batchSize)
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for sc.Scan() {
		line := sc.Bytes()
		item, err := DecodeItem(line)
		if err != nil {
			return 0, 0, sum, fmt.Errorf("part %s line %d: %w", p.Key, n+1, err)
		}
		sum.Add(line)
		n++
		size += int64(len(line) + 1)
		if batch = append(batch, item); len(batch) == batchSize {
			if err := send(); err != nil {
				return 0, 0, sum, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, sum, fmt.Errorf("part %s: %w", p.Key, err)
	}
	if len(batch) > 0 {
		if err := send(); err != nil {
			return 0, 0, sum, err
		}
	}
	return n, size, sum, nil
}

// writeBatch writes up to 25 items, retrying unprocessed ones with capped, jittered exponential
// backoff (the SDK itself retries throttling errors).
func (r *Runner) writeBatch(ctx context.Context, table string, items []map[string]dtypes.AttributeValue) error {
	reqs := make([]dtypes.WriteRequest, len(items))
	for i, it := range items {
		reqs[i] = dtypes.WriteRequest{PutRequest: &dtypes.PutRequest{Item: it}}
	}
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt == maxBatchTries {
			return fmt.Errorf("write to %s: %d items still unprocessed after %d attempts", table, len(reqs), attempt)
		}
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return err
			}
		}
		out, err := r.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]dtypes.WriteRequest{table: reqs}})
		if err != nil {
			return fmt.Errorf("write to %s: %w", table, err)
		}
		reqs = out.UnprocessedItems[table]
	}
	return nil
}

// backoff is full jitter over 50 ms × 2^attempt, capped at 5 s.
func backoff(attempt int) time.Duration {
	ceiling := min(50*time.Millisecond<<attempt, 5*time.Second)
	n, err := rand.Int(rand.Reader, big.NewInt(int64(ceiling)))
	if err != nil {
		return ceiling
	}
	return time.Duration(n.Int64()) + time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// verifyTable rescans the restored table and checks that it holds exactly the backed-up items.
func (r *Runner) verifyTable(ctx context.Context, m *Manifest, table string) error {
	meter := &Meter{Table: m.Table, Phase: "verify", TotalItems: m.ItemCount}
	r.observe(meter, false)
	defer r.observe(meter, true)
	segments := orDefault(r.Segments, DefaultSegments)
	var (
		mu    sync.Mutex
		sum   Checksum
		count int64
		errs  []error
		wg    sync.WaitGroup
	)
	for seg := range segments {
		wg.Go(func() {
			var s Checksum
			var n int64
			err := r.scan(ctx, table, seg, segments, func(_ context.Context, line []byte) error {
				s.Add(line)
				n++
				meter.Items.Add(1)
				meter.Bytes.Add(int64(len(line) + 1))
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			sum.Merge(s)
			count += n
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("verify %s: %w", table, err)
	}
	if count != m.ItemCount || sum.String() != m.Checksum {
		return fmt.Errorf("verify %s: table holds %d items with checksum %s, backup %s/%s has %d items, %s: %w",
			table, count, sum, m.Table, m.ID, m.ItemCount, m.Checksum, ErrMismatch)
	}
	return nil
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
