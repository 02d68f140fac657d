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

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
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
	// Checkpoint continues the restore a previous invocation paused (RestoreResult.Next); nil starts
	// a new one.
	Checkpoint *RestoreCheckpoint
	// scratch restores for the restore test: no stream, no TTL.
	scratch bool
}

// RestoreResult describes a finished restore.
type RestoreResult struct {
	Source, BackupID, Table string
	Items, Bytes            int64
	Parts                   int
	Duration                time.Duration
	// Next, when not nil, is where the restore paused before the invocation deadline: pass it as
	// RestoreRequest.Checkpoint to continue. The table is kept meanwhile.
	Next *RestoreCheckpoint
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
// failure the new table is deleted: nothing half-restored is left behind. If ctx has a deadline, it
// may pause before it: then res.Next is the checkpoint to continue from (RestoreRequest.Checkpoint).
func (r *Runner) Restore(ctx context.Context, req RestoreRequest) (RestoreResult, error) {
	res, err := r.restore(ctx, req)
	if err == nil && res.Next != nil {
		return res, nil // paused: the record is written when the restore ends
	}
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
	return r.restoreUntil(ctx, req, r.stopAt(ctx))
}

// restoreUntil restores as far as stop allows; then res.Next is the checkpoint to continue from.
func (r *Runner) restoreUntil(ctx context.Context, req RestoreRequest, stop time.Time) (res RestoreResult, err error) {
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
	if cp := req.Checkpoint; cp != nil {
		id = cp.BackupID
	} else if id == "" || id == Latest {
		if id, err = r.Latest(ctx, req.Source); err != nil {
			return res, err
		}
	}
	res.BackupID = id
	m, key, err := r.verifiedManifest(ctx, req.Source, id, req.Checkpoint != nil)
	if err != nil {
		return res, err
	}
	cp := req.Checkpoint
	if cp != nil {
		if err := cp.verify(key, req); err != nil {
			return res, err // a forged or foreign checkpoint never touches (or deletes) a table
		}
	} else {
		if err := r.createTable(ctx, src, req); err != nil {
			return res, err
		}
		cp = &RestoreCheckpoint{Source: req.Source, BackupID: id, Table: req.Table, Phase: phaseLoad}
	}
	defer func() {
		switch {
		case err == nil:
		case ctx.Err() != nil:
			// The invocation was stopped, not the restore refuted: keep the table and hand back the
			// last checkpoint, so a retry continues (Lambda retries with the previous payload, which
			// is a checkpoint too).
			cp.seal(key)
			res.Next = cp
		default:
			r.dropTable(ctx, req.Table)
		}
	}()
	pause := func() (RestoreResult, error) {
		cp.seal(key)
		res.Next = cp
		r.log().Info("restore paused at a checkpoint", "source", req.Source, "backup_id", id, "table", req.Table,
			"phase", cp.Phase, "parts_loaded", cp.Loaded)
		return res, nil
	}
	if cp.Phase == phaseLoad {
		if err := r.load(ctx, m, key, req.Table, cp, stop); errors.Is(err, errPaused) {
			return pause()
		} else if err != nil {
			return res, err
		}
		cp.Phase = phaseVerify
	}
	if err := r.verifyTable(ctx, m, req.Table, cp, stop); errors.Is(err, errPaused) {
		return pause()
	} else if err != nil {
		return res, err
	}
	if err := r.finishRestore(ctx, src, req); err != nil {
		return res, err
	}
	if _, err := r.reapplyErasures(ctx, req); err != nil {
		return res, err
	}
	res.Items, res.Bytes, res.Parts, res.Duration = m.ItemCount, m.Bytes, len(m.Parts), time.Since(start)
	res.manifest = m
	r.log().Info("table restored", "source", req.Source, "backup_id", id, "table", req.Table, "items", m.ItemCount, "duration_ms", res.Duration.Milliseconds())
	return res, nil
}

// finishRestore is the last step of a restore, once the table holds exactly the verified backup:
// the settings a live table needs. Steps that must follow every restore belong here.
func (r *Runner) finishRestore(ctx context.Context, src Source, req RestoreRequest) error {
	if !req.scratch && src.Def.TTLAttribute != "" {
		if _, err := r.DB.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               aws.String(req.Table),
			TimeToLiveSpecification: &dtypes.TimeToLiveSpecification{AttributeName: aws.String(src.Def.TTLAttribute), Enabled: aws.Bool(true)},
		}); err != nil {
			return fmt.Errorf("enable TTL on %s: %w", req.Table, err)
		}
	}
	return nil
}

// verifiedManifest reads and authenticates a manifest and checks, before anything is written, that
// every part it lists is in the bucket with its recorded size and that its counts add up.
// A continuation (cached) may use the data key this process unwrapped before; a new restore unwraps it.
func (r *Runner) verifiedManifest(ctx context.Context, table, id string, cached bool) (*Manifest, *dataKey, error) {
	m, err := r.readManifest(ctx, table, id)
	if err != nil {
		return nil, nil, err
	}
	open := r.openManifest
	if cached {
		open = r.openKey
	}
	key, err := open(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	r.cacheKey(m, key)
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
	in := CreateTableInput(src.Def, req.Table, src.TableKeyID)
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

// load reads, verifies and decodes the parts from cp.Loaded on and writes their items into table,
// until stop. cp.Loaded only advances over a prefix of parts that are fully written, so a part in
// flight when an invocation stops or dies is loaded again (its puts overwrite themselves).
func (r *Runner) load(ctx context.Context, m *Manifest, key *dataKey, table string, cp *RestoreCheckpoint, stop time.Time) error {
	meter := &Meter{Table: m.Table, Phase: "restore", TotalItems: m.ItemCount, TotalParts: int64(len(m.Parts))}
	meter.Parts.Store(int64(cp.Loaded))
	meter.Items.Store(cp.Items)
	r.observe(meter, false)
	defer r.observe(meter, true)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type partDone struct {
		n, size int64
		sum     Checksum
	}
	var (
		mu      sync.Mutex
		done    = map[int]partDone{}
		readers sync.WaitGroup
		parts   = make(chan int)
		writers = make(chan struct{}, restoreWriters) // BatchWriteItem calls in flight
	)
	for range restoreReaders {
		readers.Go(func() {
			for i := range parts {
				p := m.Parts[i]
				n, size, s, err := r.loadPart(ctx, key, p, table, writers, meter)
				if err != nil {
					cancel(err)
					return
				}
				if n != p.Items {
					cancel(fmt.Errorf("part %s holds %d items, manifest says %d: %w", p.Key, n, p.Items, ErrMismatch))
					return
				}
				mu.Lock()
				done[i] = partDone{n, size, s}
				mu.Unlock()
				meter.Parts.Add(1)
			}
		})
	}
	paused := false
	for i := cp.Loaded; i < len(m.Parts) && ctx.Err() == nil; i++ {
		if i > cp.Loaded && pastStop(stop) { // at least one part per invocation
			paused = true
			break
		}
		select {
		case parts <- i:
		case <-ctx.Done():
		}
	}
	close(parts)
	readers.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("restore %s/%s into %s: %w", m.Table, m.ID, table, err)
	}
	for d, ok := done[cp.Loaded]; ok; d, ok = done[cp.Loaded] {
		cp.Sum.Merge(d.sum)
		cp.Items += d.n
		cp.Bytes += d.size
		cp.Loaded++
	}
	if paused || cp.Loaded < len(m.Parts) {
		return errPaused
	}
	meter.Bytes.Store(cp.Bytes)
	if cp.Items != m.ItemCount || cp.Sum.String() != m.Checksum {
		return fmt.Errorf("restore %s/%s: read %d items with checksum %s, manifest says %d items, %s: %w",
			m.Table, m.ID, cp.Items, cp.Sum, m.ItemCount, m.Checksum, ErrMismatch)
	}
	return nil
}

// loadPart reads one part and writes its items, up to cap(writers) batches at once across parts.
func (r *Runner) loadPart(ctx context.Context, key *dataKey, p Part, table string, writers chan struct{}, meter *Meter) (n, size int64, sum Checksum, err error) {
	batches := make(chan []map[string]dtypes.AttributeValue)
	var (
		wg   sync.WaitGroup
		werr error
		once sync.Once
	)
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for b := range batches {
			select {
			case writers <- struct{}{}:
			case <-ctx.Done():
				continue // drain
			}
			wg.Go(func() {
				defer func() { <-writers }()
				if err := r.writeBatch(ctx, table, b); err != nil {
					once.Do(func() { werr = err })
					return
				}
				meter.Items.Add(int64(len(b)))
			})
		}
	}()
	n, size, sum, err = r.readPart(ctx, key, p, batches)
	close(batches)
	<-dispatched // every batch is with a writer (or dropped after a failure): now wait for them
	wg.Wait()
	if err != nil {
		return 0, 0, sum, err
	}
	if werr != nil {
		return 0, 0, sum, werr
	}
	return n, size, sum, ctx.Err()
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

// verifyTable rescans the restored table and checks that it holds exactly the backed-up items,
// segment by segment from cp.Verify, until stop.
func (r *Runner) verifyTable(ctx context.Context, m *Manifest, table string, cp *RestoreCheckpoint, stop time.Time) error {
	meter := &Meter{Table: m.Table, Phase: "verify", TotalItems: m.ItemCount}
	r.observe(meter, false)
	defer r.observe(meter, true)
	if len(cp.Verify) == 0 {
		for seg := range orDefault(r.Segments, DefaultSegments) {
			cp.Verify = append(cp.Verify, segState{Segment: seg})
		}
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for i := range cp.Verify {
		st := &cp.Verify[i]
		meter.Items.Add(st.Items)
		wg.Go(func() {
			err := r.verifySegment(ctx, table, st, len(cp.Verify), stop, meter)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var failed []error
	for _, e := range errs {
		if !errors.Is(e, errPaused) {
			failed = append(failed, e)
		}
	}
	if err := errors.Join(failed...); err != nil {
		return fmt.Errorf("verify %s: %w", table, err)
	}
	if len(errs) > 0 {
		return errPaused
	}
	var (
		sum   Checksum
		count int64
	)
	for _, st := range cp.Verify {
		sum.Merge(st.Sum)
		count += st.Items
	}
	if count != m.ItemCount || sum.String() != m.Checksum {
		return fmt.Errorf("verify %s: table holds %d items with checksum %s, backup %s/%s has %d items, %s: %w",
			table, count, sum, m.Table, m.ID, m.ItemCount, m.Checksum, ErrMismatch)
	}
	return nil
}

// verifySegment sums one segment of the restored table on from its position, page by page.
func (r *Runner) verifySegment(ctx context.Context, table string, st *segState, total int, stop time.Time, meter *Meter) error {
	start, err := decodeKey(st.StartKey)
	if err != nil {
		return err
	}
	for progressed := false; !st.Done; progressed = true {
		if progressed && pastStop(stop) { // at least one page per invocation
			return errPaused
		}
		page, err := r.DB.Scan(ctx, &dynamodb.ScanInput{
			TableName: aws.String(table), Segment: aws.Int32(int32(st.Segment)), TotalSegments: aws.Int32(int32(total)),
			ConsistentRead: aws.Bool(true), ExclusiveStartKey: start, Limit: aws.Int32(int32(orDefault(r.PageItems, DefaultPageItems))),
		})
		if err != nil {
			return fmt.Errorf("scan %s segment %d/%d: %w", table, st.Segment, total, err)
		}
		for _, item := range page.Items {
			line, err := EncodeItem(item)
			if err != nil {
				return fmt.Errorf("scan %s: %w", table, err)
			}
			st.Sum.Add(line)
			st.Items++
			meter.Items.Add(1)
			meter.Bytes.Add(int64(len(line) + 1))
		}
		start = page.LastEvaluatedKey
		if st.StartKey, err = encodeKey(start); err != nil {
			return err
		}
		st.Done = len(start) == 0
	}
	return nil
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
