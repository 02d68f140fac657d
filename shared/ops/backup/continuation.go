package backup

// Continuation. A table of tens of millions of items does not export, restore or verify within one
// Lambda invocation (at most 15 minutes), so each of those runs in invocations that stop cleanly
// before their deadline (ctx's deadline less StopMargin) and hand a checkpoint to the next one:
//
//   - A backup checkpoints each scan segment in the bucket, beside its parts, after every part:
//     backups/<table>/<id>/checkpoint-<segment>.enc holds the segment's LastEvaluatedKey, the parts
//     written so far, their item count and checksum, sealed under the backup's data key (so it can
//     neither be read nor forged without the backup key); run.json holds the run's manifest without
//     parts (wrapped data key, native backup, canary). Parts are named by segment and sequence, and a
//     part is written only from a checkpointed scan position, so an invocation that dies between a
//     part and its checkpoint rewrites the same part name with the same items: no duplicate, no gap.
//     The manifest is written only once every segment's checkpoint says done.
//   - A restore (and the restore test) carries its checkpoint in the invocation payload: the phase,
//     how many parts are loaded (a prefix of the manifest's list; items are put by key, so a part
//     loaded again after a crash overwrites itself), and the verify scan's segment positions, all
//     authenticated under the backup's data key so a forged payload cannot skip a part or a check.
//
// The mechanism is Lambda re-invocation: the function invokes itself asynchronously with the job
// (backup id or restore checkpoint) as the payload. It needs no state machine or queue to deploy,
// pay for or grant; the segments already run in parallel inside an invocation (one goroutine each,
// DynamoDB's parallel scan), which is where the throughput comes from; and an invocation that
// crashes is retried by Lambda's asynchronous retry with the same payload, which resumes from the
// last checkpoint. Step Functions (a distributed map over segments) becomes worth its cost when one
// invocation's network or CPU, not its duration, is the limit: see the capacity note in the README.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// BackupJob is what one backup invocation hands to the next: the run it continues. Everything else
// is in the bucket.
type BackupJob struct {
	ID string `json:"backupId"`
	// Invocation counts the invocations of the run so far (0 for the first).
	Invocation int `json:"invocation"`
}

// errPaused reports work that stopped at a checkpoint before the deadline; the next invocation
// continues it.
var errPaused = errors.New("paused at a checkpoint before the invocation deadline")

// DefaultStopMargin is how long before the invocation deadline work stops to checkpoint: enough for
// in-flight pages and batches to finish and the checkpoint to be written.
const DefaultStopMargin = 30 * time.Second

// DefaultPageItems caps one scan page, so a page is finished well inside the stop margin.
const DefaultPageItems = 1000

// stopAt is when work stops to checkpoint: ctx's deadline less the margin (a tenth of the time left
// for short budgets), or never without a deadline.
func (r *Runner) stopAt(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}
	}
	margin := r.StopMargin
	if margin <= 0 {
		margin = min(DefaultStopMargin, time.Until(d)/10)
	}
	return d.Add(-margin)
}

func pastStop(stop time.Time) bool { return !stop.IsZero() && !time.Now().Before(stop) }

// runState is a backup run of one table in progress: its manifest without parts, sealed by MAC.
type runState struct {
	Manifest  *Manifest `json:"manifest"`
	NativeErr string    `json:"nativeError,omitempty"`
}

const runName = "run.json"

// segState is one scan segment's checkpoint.
type segState struct {
	Segment int `json:"segment"`
	// StartKey is the ExclusiveStartKey to scan on from (EncodeItem form; empty: from the start).
	StartKey string   `json:"startKey,omitempty"`
	Next     int      `json:"nextPart"`
	Parts    []Part   `json:"parts,omitempty"`
	Items    int64    `json:"items"`
	Bytes    int64    `json:"bytes"`
	Sum      Checksum `json:"sum"`
	Done     bool     `json:"done"`
}

func checkpointKey(table, id string, seg int) string {
	return backupPrefix(table, id) + "checkpoint-" + strconv.Itoa(seg) + ".enc"
}

// cachedKey remembers the data keys this process opened, so a warm invocation does not unwrap again.
func (r *Runner) cachedKey(m *Manifest) *dataKey {
	r.keysMu.Lock()
	defer r.keysMu.Unlock()
	return r.keys[m.Table+"/"+m.ID]
}

func (r *Runner) cacheKey(m *Manifest, k *dataKey) {
	r.keysMu.Lock()
	defer r.keysMu.Unlock()
	if r.keys == nil {
		r.keys = map[string]*dataKey{}
	}
	r.keys[m.Table+"/"+m.ID] = k
}

// openKey returns the data key of m, authenticating m with it.
func (r *Runner) openKey(ctx context.Context, m *Manifest) (*dataKey, error) {
	if k := r.cachedKey(m); k != nil {
		body, err := m.canonical()
		if err != nil {
			return nil, err
		}
		if err := k.verifyMAC(body, m.MAC); err != nil {
			return nil, fmt.Errorf("backup %s/%s was altered: %w", m.Table, m.ID, err)
		}
		return k, nil
	}
	k, err := r.openManifest(ctx, m)
	if err != nil {
		return nil, err
	}
	r.cacheKey(m, k)
	return k, nil
}

// startRun begins a table's backup: the native backup, the data key, the canary, and run.json.
func (r *Runner) startRun(ctx context.Context, s Source, id string) (*runState, *dataKey, error) {
	run := &runState{}
	arn, nerr := r.nativeBackup(ctx, s, id)
	if nerr != nil {
		run.NativeErr = nerr.Error()
	}
	key, err := newDataKey(ctx, r.KMS, r.KeyID, s.Def.ID, id)
	if err != nil {
		return nil, nil, err
	}
	m := &Manifest{
		Format: FormatVersion, ID: id, Table: s.Def.ID, SourceTable: s.Name,
		ScanStart: r.Clock.Now().Format(time.RFC3339Nano), Cipher: Cipher,
		KeyID: key.keyID, WrappedKey: key.wrapped, Segments: orDefault(r.Segments, DefaultSegments), NativeBackupARN: arn,
	}
	if s.Def.ID == resources.Vault.ID {
		if m.VaultKeyCanary, err = newCanary(ctx, r.KMS, r.VaultKeyID, s.Def.ID, id); err != nil {
			return nil, nil, err
		}
	}
	body, err := m.canonical()
	if err != nil {
		return nil, nil, err
	}
	m.MAC = key.mac(body)
	run.Manifest = m
	b, err := json.Marshal(run)
	if err != nil {
		return nil, nil, fmt.Errorf("encode run state: %w", err)
	}
	if err := r.put(ctx, backupPrefix(s.Def.ID, id)+runName, b, "application/json"); err != nil {
		return nil, nil, fmt.Errorf("write run state: %w", err)
	}
	r.cacheKey(m, key)
	return run, key, nil
}

// resumeRun reads a table's run state (nil if the run never started) and opens its data key.
func (r *Runner) resumeRun(ctx context.Context, s Source, id string) (*runState, *dataKey, error) {
	b, err := r.get(ctx, backupPrefix(s.Def.ID, id)+runName)
	if errors.Is(err, ErrIncomplete) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var run runState
	if err := json.Unmarshal(b, &run); err != nil || run.Manifest == nil {
		return nil, nil, fmt.Errorf("run state of backup %s/%s is not valid: %w", s.Def.ID, id, ErrTampered)
	}
	m := run.Manifest
	if m.Format != FormatVersion || m.Table != s.Def.ID || m.ID != id || m.SourceTable != s.Name || m.Segments <= 0 {
		return nil, nil, fmt.Errorf("run state of backup %s/%s names %s/%s: %w", s.Def.ID, id, m.Table, m.ID, ErrTampered)
	}
	key, err := r.openKey(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	return &run, key, nil
}

// export writes the table's sealed parts, segment by segment from their checkpoints, and then, once
// every segment is done, its manifest. It returns errPaused if it stopped at stop first.
func (r *Runner) export(ctx context.Context, s Source, id string, stop time.Time) (*Manifest, *runState, error) {
	if m, err := r.readManifest(ctx, s.Def.ID, id); err == nil {
		run, _, _ := r.resumeRun(ctx, s, id)
		return m, run, nil // finished in an earlier invocation
	} else if !errors.Is(err, ErrNoBackup) {
		return nil, nil, err
	}
	run, key, err := r.resumeRun(ctx, s, id)
	if err != nil {
		return nil, nil, err
	}
	if run == nil {
		if run, key, err = r.startRun(ctx, s, id); err != nil {
			return nil, run, err
		}
	}
	m := *run.Manifest
	meter := &Meter{Table: s.Def.ID, Phase: "backup"}
	if d, err := r.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.Name)}); err == nil && d.Table != nil {
		meter.TotalItems = aws.ToInt64(d.Table.ItemCount)
	}
	r.observe(meter, false)
	defer r.observe(meter, true)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu     sync.Mutex
		errs   []error
		states = make([]*segState, m.Segments)
		wg     sync.WaitGroup
	)
	for seg := range m.Segments {
		wg.Go(func() {
			st, err := r.exportSegment(ctx, s, &m, key, seg, stop, meter)
			mu.Lock()
			defer mu.Unlock()
			states[seg] = st
			if err != nil && !errors.Is(err, errPaused) {
				cancel()
			}
			if err != nil {
				errs = append(errs, err)
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
	if len(failed) > 0 {
		return nil, run, errors.Join(failed...) // no manifest: the parts so far are never listed
	}
	if len(errs) > 0 {
		return nil, run, errPaused
	}
	var sum Checksum
	m.Parts, m.ItemCount, m.Bytes, m.MAC = nil, 0, 0, nil
	for _, st := range states {
		m.Parts = append(m.Parts, st.Parts...)
		m.ItemCount += st.Items
		m.Bytes += st.Bytes
		sum.Merge(st.Sum)
	}
	sortParts(m.Parts)
	m.Checksum = sum.String()
	m.ScanEnd = r.Clock.Now().Format(time.RFC3339Nano)
	if err := r.putManifest(ctx, &m, key); err != nil {
		return nil, run, err
	}
	r.log().Info("table backed up", "table", s.Def.ID, "backup_id", id, "items", m.ItemCount,
		"parts", len(m.Parts), "bytes", m.Bytes, "sealed_bytes", m.SealedBytes())
	return &m, run, nil
}

// loadSegment reads a segment's checkpoint, or a fresh state if it has none yet.
func (r *Runner) loadSegment(ctx context.Context, m *Manifest, key *dataKey, seg int) (*segState, error) {
	k := checkpointKey(m.Table, m.ID, seg)
	sealed, err := r.get(ctx, k)
	if errors.Is(err, ErrIncomplete) {
		return &segState{Segment: seg}, nil
	}
	if err != nil {
		return nil, err
	}
	plain, err := key.open(k, sealed)
	if err != nil {
		return nil, err
	}
	var st segState
	if err := json.Unmarshal(plain, &st); err != nil || st.Segment != seg {
		return nil, fmt.Errorf("checkpoint %s is not valid: %w", k, ErrTampered)
	}
	return &st, nil
}

func (r *Runner) saveSegment(ctx context.Context, m *Manifest, key *dataKey, st *segState) error {
	k := checkpointKey(m.Table, m.ID, st.Segment)
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := r.put(ctx, k, key.seal(k, b), "application/octet-stream"); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// exportSegment scans one segment on from its checkpoint into parts. A part ends on a page boundary
// (the page Limit stops at the part's item cap), so each checkpoint is a scan position and the parts
// before it: resuming rescans from there and rewrites the next part under the same name.
func (r *Runner) exportSegment(ctx context.Context, s Source, m *Manifest, key *dataKey, seg int, stop time.Time, meter *Meter) (*segState, error) {
	st, err := r.loadSegment(ctx, m, key, seg)
	if err != nil {
		return nil, err
	}
	maxItems, maxBytes := int64(orDefault(r.PartItems, DefaultPartItems)), int64(orDefault(r.PartBytes, DefaultPartBytes))
	w := &partWriter{r: r, key: key, prefix: backupPrefix(m.Table, m.ID), segment: seg, n: st.Next}
	start, err := decodeKey(st.StartKey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint of %s/%s segment %d: %w", m.Table, m.ID, seg, err)
	}
	for progressed := false; !st.Done; progressed = true {
		// Every invocation reads at least one page, even if setting up took its whole budget.
		if progressed && pastStop(stop) {
			if w.items == 0 {
				return st, errPaused
			}
			// Flush what this invocation read; its scan position is the last page's.
		} else {
			page, err := r.DB.Scan(ctx, &dynamodb.ScanInput{
				TableName: aws.String(s.Name), Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(int32(m.Segments)),
				ConsistentRead: aws.Bool(true), ExclusiveStartKey: start, Limit: aws.Int32(int32(min(maxItems-w.items, int64(orDefault(r.PageItems, DefaultPageItems))))),
			})
			if err != nil {
				return st, fmt.Errorf("scan %s segment %d/%d: %w", s.Name, seg, m.Segments, err)
			}
			for _, item := range page.Items {
				line, err := EncodeItem(item)
				if err != nil {
					return st, fmt.Errorf("scan %s: %w", s.Name, err)
				}
				w.add(line)
				meter.Items.Add(1)
				meter.Bytes.Add(int64(len(line) + 1))
			}
			start = page.LastEvaluatedKey
			if len(start) > 0 && w.items < maxItems && w.bytes < maxBytes {
				continue // the part is not full and the segment goes on
			}
		}
		p, err := w.flush(ctx)
		if err != nil {
			return st, err
		}
		if p != nil {
			meter.Parts.Add(1)
			st.Parts = append(st.Parts, *p)
			st.Items += w.items
			st.Bytes += w.bytes
			st.Sum.Merge(w.sum)
		}
		w.reset()
		st.Next = w.n
		st.Done = len(start) == 0
		if st.StartKey, err = encodeKey(start); err != nil {
			return st, err
		}
		if err := r.saveSegment(ctx, m, key, st); err != nil {
			return st, err
		}
	}
	return st, nil
}

func encodeKey(k map[string]dtypes.AttributeValue) (string, error) {
	if len(k) == 0 {
		return "", nil
	}
	b, err := EncodeItem(k)
	return string(b), err
}

func decodeKey(s string) (map[string]dtypes.AttributeValue, error) {
	if s == "" {
		return nil, nil
	}
	return DecodeItem([]byte(s))
}

// Restore phases.
const (
	phaseLoad   = "load"
	phaseVerify = "verify"
)

// RestoreCheckpoint is where a paused restore continues: it travels in the next invocation's
// payload (or the CLI's loop), authenticated under the backup's data key.
type RestoreCheckpoint struct {
	Source   string `json:"source"`
	BackupID string `json:"backupId"`
	Table    string `json:"table"`
	Phase    string `json:"phase"`
	// Loaded is how many of the manifest's parts are fully written; Items, Bytes and Sum are theirs.
	Loaded int      `json:"partsLoaded"`
	Items  int64    `json:"items"`
	Bytes  int64    `json:"bytes"`
	Sum    Checksum `json:"sum"`
	// Verify is the rescan's position in each segment.
	Verify []segState `json:"verify,omitempty"`
	MAC    []byte     `json:"mac,omitempty"`
}

func (c *RestoreCheckpoint) body() []byte {
	x := *c
	x.MAC = nil
	b, _ := json.Marshal(x) // plain data: cannot fail
	return append([]byte("restore-checkpoint\x00"), b...)
}

func (c *RestoreCheckpoint) seal(k *dataKey) { c.MAC = k.mac(c.body()) }

// verify authenticates the checkpoint and checks that it continues this very request.
func (c *RestoreCheckpoint) verify(k *dataKey, req RestoreRequest) error {
	if err := k.verifyMAC(c.body(), c.MAC); err != nil {
		return fmt.Errorf("restore checkpoint: %w", err)
	}
	if c.Source != req.Source || c.Table != req.Table || (req.From != "" && req.From != Latest && req.From != c.BackupID) ||
		(c.Phase != phaseLoad && c.Phase != phaseVerify) {
		return fmt.Errorf("restore checkpoint of %s/%s into %s does not continue this restore: %w", c.Source, c.BackupID, c.Table, ErrTampered)
	}
	return nil
}
