package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// TableResult is the outcome of one table's backup.
type TableResult struct {
	Table           string
	BackupID        string
	Items           int64
	Bytes           int64 // uncompressed NDJSON
	SealedBytes     int64
	Parts           int
	NativeBackupARN string
	Duration        time.Duration
	// Err is why the export failed (then there is no manifest); NativeErr why the native backup did.
	Err, NativeErr error
}

// OK reports whether both the export and the native backup succeeded.
func (t TableResult) OK() bool { return t.Err == nil && t.NativeErr == nil }

// BackupResult is the outcome of one backup run.
type BackupResult struct {
	ID      string
	Started time.Time
	Tables  []TableResult
	// Pruned counts the expired exports and native backups deleted.
	Pruned   int
	PruneErr error
}

// Err joins every failure of the run, or is nil.
func (b BackupResult) Err() error {
	var errs []error
	for _, t := range b.Tables {
		if t.Err != nil {
			errs = append(errs, fmt.Errorf("export %s: %w", t.Table, t.Err))
		}
		if t.NativeErr != nil {
			errs = append(errs, fmt.Errorf("native backup %s: %w", t.Table, t.NativeErr))
		}
	}
	if b.PruneErr != nil {
		errs = append(errs, fmt.Errorf("prune: %w", b.PruneErr))
	}
	return errors.Join(errs...)
}

// Backup backs up every table: a native on-demand backup and an encrypted export each, then prunes
// what retention lets go, then reports the run (audit record, metrics, log). One table's failure does
// not stop the others; the returned error names every failure. It runs to the end in this call,
// whatever ctx's deadline; BackupStep is the same work in invocations that stop before a deadline.
func (r *Runner) Backup(ctx context.Context) (BackupResult, error) {
	res, _, err := r.backupStep(ctx, BackupJob{}, time.Time{})
	return res, err
}

// BackupStep does one invocation's share of a backup: it starts a new run (job.ID empty) or continues
// job's, exports until ctx's deadline less the stop margin, and checkpoints. It returns the job to
// continue with, or nil when the run is over; only then has it pruned and reported, and res is the
// whole run's outcome.
func (r *Runner) BackupStep(ctx context.Context, job BackupJob) (res BackupResult, next *BackupJob, err error) {
	return r.backupStep(ctx, job, r.stopAt(ctx))
}

func (r *Runner) backupStep(ctx context.Context, job BackupJob, stop time.Time) (BackupResult, *BackupJob, error) {
	started := r.Clock.Now()
	if job.ID == "" {
		job.ID = started.Format(IDLayout)
	} else if t, err := time.Parse(IDLayout, job.ID); err == nil && !t.After(started) && started.Sub(t) < incompleteGrace {
		started = t
	} else {
		// A continuation only resumes a run that started, in the past and within the time an
		// unfinished run is kept: never one dated into the future, which would shadow every later backup.
		return BackupResult{}, nil, fmt.Errorf("backup id %q does not name a run that can continue: %w", job.ID, ErrTampered)
	}
	res := BackupResult{ID: job.ID, Started: started}
	paused := false
	for _, s := range r.Tables {
		if paused { // out of time: later tables start in the next invocation
			res.Tables = append(res.Tables, TableResult{Table: s.Def.ID, BackupID: job.ID})
			continue
		}
		tr, err := r.backupTable(ctx, s, job.ID, stop)
		if errors.Is(err, errPaused) {
			paused = true
		}
		res.Tables = append(res.Tables, tr)
	}
	if paused {
		return res, &BackupJob{ID: job.ID, Invocation: job.Invocation + 1}, nil
	}
	if res.Err() == nil { // prune only after a fully good run, so a failing job never eats old backups
		res.Pruned, res.PruneErr = r.Prune(ctx)
	}
	err := res.Err()
	r.reportBackup(ctx, res, err)
	return res, nil, err
}

// backupTable exports one table as far as stop allows; errPaused says it stopped at a checkpoint.
func (r *Runner) backupTable(ctx context.Context, s Source, id string, stop time.Time) (TableResult, error) {
	start := time.Now()
	res := TableResult{Table: s.Def.ID, BackupID: id}
	m, run, err := r.export(ctx, s, id, stop)
	if run != nil {
		res.NativeBackupARN = run.Manifest.NativeBackupARN
		if run.NativeErr != "" {
			res.NativeErr = errors.New(run.NativeErr)
		}
		if t, perr := time.Parse(time.RFC3339Nano, run.Manifest.ScanStart); perr == nil {
			res.Duration = r.Clock.Now().Sub(t)
		}
	}
	if res.Duration == 0 {
		res.Duration = time.Since(start)
	}
	if errors.Is(err, errPaused) {
		return res, err
	}
	if err != nil {
		res.Err = err
		return res, err
	}
	res.Items, res.Bytes, res.SealedBytes, res.Parts = m.ItemCount, m.Bytes, m.SealedBytes(), len(m.Parts)
	return res, nil
}

// nativeBackup asks DynamoDB for an on-demand backup, the point-in-time copy AWS restores natively.
func (r *Runner) nativeBackup(ctx context.Context, s Source, id string) (string, error) {
	out, err := r.DB.CreateBackup(ctx, &dynamodb.CreateBackupInput{
		TableName: aws.String(s.Name), BackupName: aws.String(nativeBackupName(s.Def.ID, id)),
	})
	if err != nil {
		return "", fmt.Errorf("create backup of %s: %w", s.Name, err)
	}
	if out.BackupDetails == nil {
		return "", fmt.Errorf("create backup of %s: no backup details returned", s.Name)
	}
	return aws.ToString(out.BackupDetails.BackupArn), nil
}

// nativeBackupName names native backups so pruning recognises its own ("vaultbill-billing-<id>").
func nativeBackupName(table, id string) string { return "vaultbill-" + table + "-" + id }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// partWriter gathers one segment's lines into a gzip part; flush seals and uploads it.
type partWriter struct {
	r       *Runner
	key     *dataKey
	prefix  string
	segment int
	n       int // the next part's sequence number

	buf   bytes.Buffer
	gz    *gzip.Writer
	items int64
	bytes int64
	sum   Checksum
}

func (w *partWriter) add(line []byte) {
	if w.gz == nil {
		w.buf.Reset()
		w.gz = gzip.NewWriter(&w.buf)
	}
	w.gz.Write(line) //nolint:errcheck // writes to a bytes.Buffer cannot fail
	w.gz.Write([]byte{'\n'})
	w.sum.Add(line)
	w.items++
	w.bytes += int64(len(line) + 1)
}

// flush uploads the part (nil if it is empty) named by segment and sequence, so writing the same
// part again replaces it.
func (w *partWriter) flush(ctx context.Context) (*Part, error) {
	if w.gz == nil || w.items == 0 {
		return nil, nil
	}
	if err := w.gz.Close(); err != nil {
		return nil, fmt.Errorf("compress part: %w", err)
	}
	key := fmt.Sprintf("%spart-%d-%05d.ndjson.gz.enc", w.prefix, w.segment, w.n)
	sealed := w.key.seal(key, w.buf.Bytes())
	if err := w.r.put(ctx, key, sealed, "application/octet-stream"); err != nil {
		return nil, fmt.Errorf("upload part: %w", err)
	}
	w.n++
	return &Part{Key: key, Items: w.items, Size: int64(len(sealed)), SHA256: hexSHA256(sealed)}, nil
}

// reset starts the next part.
func (w *partWriter) reset() { w.gz, w.items, w.bytes, w.sum = nil, 0, 0, Checksum{} }

func sortParts(p []Part) { sort.Slice(p, func(i, j int) bool { return p[i].Key < p[j].Key }) }
