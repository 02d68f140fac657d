package backup_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/backup"
)

// budget is the simulated invocation's working time in the continuation tests; margin is its stop
// margin, the time its calls in flight have before the deadline. The emulator is slow where AWS is
// not (CreateBackup copies the table, and every page of a segment's scan reads the whole table: over
// a second each with 20 000 items, many seconds on a busy machine), so the margin is far larger than
// in AWS: it only bounds the calls in flight, work still stops after budget.
const (
	budget = 2 * time.Second
	margin = 3 * time.Minute
)

// invocation is the context of one simulated invocation: its deadline is budget+margin away.
func invocation(r *backup.Runner) (context.Context, context.CancelFunc) {
	r.StopMargin = margin
	return context.WithTimeout(context.Background(), budget+margin)
}

// TestContinuation backs up 20 000 items in invocations of 2 seconds each, restores them in
// invocations of 2 seconds each, and finds every table exactly as it was; then it does the same again
// with invocations killed mid-segment (context cancelled at a random point, an S3 failure after some
// parts), each resumed from its checkpoint without a duplicate or a missing item.
func TestContinuation(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 20 000 items")
	}
	e := newEnv(t)
	c := e.s.Env.Config
	// The runs' own audit records would land in the audit table being backed up; TestRoundTrip
	// checks them. Here every table must hold just what was seeded.
	e.r.Audit = nil
	// The emulator reads the whole table for every page: few large pages keep the test short. Two
	// segments of 3 000-item parts still make several parts per segment, so a kill lands between
	// parts and mid-part, and several invocations per table.
	e.r.Segments = 2
	e.r.PartItems = 3000
	e.r.PageItems = 3000
	counts := e.seed(t, 4800)
	total := counts["billing"] + counts["vault"] + counts["audit"]
	if total != 20000 {
		t.Fatalf("seeded %d items, want 20 000", total)
	}
	tables := map[string]string{"billing": c.BillingTable, "vault": c.VaultTable, "audit": c.AuditTable}
	before := map[string]map[string]string{}
	for id, name := range tables {
		before[id] = e.snapshot(t, name)
	}

	clean := e.backupInvocations(t, nil)
	e.checkBackup(t, clean, counts)
	e.restoreInvocations(t, clean, "clean", before, -1)

	// Invocation 1 is cancelled at a random point; invocation 2 loses S3 at its first part, after
	// scanning it. Each is
	// retried with the same job, as Lambda retries a failed asynchronous invocation.
	var parts atomic.Int64
	failAfter := int64(-1)
	e.r.S3 = killingS3{S3API: e.r.S3, parts: &parts, failAfter: &failAfter}
	killed := e.backupInvocations(t, func(i int, ctx context.Context) context.Context {
		switch i {
		case 1:
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(time.Duration(200+rand.IntN(1800))*time.Millisecond, cancel)
			return ctx
		case 2:
			atomic.StoreInt64(&failAfter, parts.Load()) // one-shot: disarms when it fires
		}
		return ctx
	})
	e.checkBackup(t, killed, counts)
	for id := range tables {
		a, b := e.manifest(t, id, clean), e.manifest(t, id, killed)
		if a.Checksum != b.Checksum || a.ItemCount != b.ItemCount {
			t.Errorf("%s: killed backup holds %d items (%s), clean one %d (%s)", id, b.ItemCount, b.Checksum, a.ItemCount, a.Checksum)
		}
	}
	// The manifests match the clean run's, item for item; restoring a table with a killed invocation
	// shows the restore resumes too.
	e.restoreInvocations(t, killed, "killed", map[string]map[string]string{"audit": before["audit"]}, 1)
}

// backupInvocations runs a backup in invocations of budget each until it is over, as the backup
// function's self-invocation does; kill may shorten or break invocation i. A failed invocation is
// retried with the same job.
func (e *env) backupInvocations(t *testing.T, kill func(i int, ctx context.Context) context.Context) string {
	t.Helper()
	job := backup.BackupJob{}
	failures := 0
	start := time.Now()
	for i := 0; ; i++ {
		if i > 300 {
			t.Fatal("backup did not finish in 300 invocations")
		}
		ctx, cancel := invocation(e.r)
		if kill != nil {
			ctx = kill(i, ctx)
		}
		res, next, err := e.r.BackupStep(ctx, job)
		cancel()
		job.ID = res.ID
		if err != nil {
			if kill == nil {
				t.Fatalf("invocation %d: %v", i, err)
			}
			failures++
			t.Logf("invocation %d failed (retried): %v", i, err)
			continue
		}
		if next == nil {
			if i < 3 {
				t.Errorf("backup of 20 000 items finished in %d invocations of %s: the continuation was not exercised", i+1, budget)
			}
			if kill != nil && failures < 1 {
				t.Errorf("%d invocations failed, want the killed one", failures)
			}
			t.Logf("backup %s: %d invocations, %d failed and retried, %s in all: %.0f items/s per segment on the emulator",
				res.ID, i+1, failures, time.Since(start).Round(time.Millisecond), 20000/time.Since(start).Seconds()/float64(e.r.Segments))
			return res.ID
		}
		job = *next
	}
}

// checkBackup checks a finished backup: its counts, and that every part in the bucket is listed in
// the manifest exactly once (a part rewritten after a kill replaced itself).
func (e *env) checkBackup(t *testing.T, id string, counts map[string]int) {
	t.Helper()
	for table, want := range counts {
		m := e.manifest(t, table, id)
		if m.ItemCount != int64(want) {
			t.Errorf("%s: manifest counts %d items, want %d", table, m.ItemCount, want)
		}
		listed := map[string]bool{}
		var n int64
		for _, p := range m.Parts {
			if listed[p.Key] {
				t.Errorf("%s: part %s listed twice", table, p.Key)
			}
			listed[p.Key] = true
			n += p.Items
		}
		if n != int64(want) {
			t.Errorf("%s: parts hold %d items, want %d", table, n, want)
		}
		out, err := e.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(e.r.Bucket), Prefix: aws.String("backups/" + table + "/" + id + "/part-")})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			if !listed[aws.ToString(o.Key)] {
				t.Errorf("%s: part %s is in the bucket but not in the manifest", table, aws.ToString(o.Key))
			}
		}
	}
}

// restoreInvocations restores each table of backup id into a new table in invocations of budget
// each, killing invocation kill (-1: none) at a random point and retrying it with its payload, and
// compares the restored table with the original.
func (e *env) restoreInvocations(t *testing.T, id, suffix string, before map[string]map[string]string, kill int) {
	t.Helper()
	for table, want := range before {
		req := backup.RestoreRequest{Source: table, From: id, Table: "vaultbill-" + table + "-" + suffix}
		n := 0
		for i := 0; ; i++ {
			if i > 300 {
				t.Fatalf("restore of %s did not finish in 300 invocations", table)
			}
			ctx, cancel := invocation(e.r)
			if i == kill {
				var stop context.CancelFunc
				ctx, stop = context.WithCancel(ctx)
				time.AfterFunc(time.Duration(100+rand.IntN(1900))*time.Millisecond, stop)
			}
			res, err := e.r.Restore(ctx, req)
			cancel()
			n++
			if err != nil {
				if i != kill || res.Next == nil || errors.Is(err, backup.ErrMismatch) {
					t.Fatalf("restore %s invocation %d: %v", table, i, err)
				}
				t.Logf("restore %s invocation %d killed (retried): %v", table, i, err)
				continue // retried with the same payload (req still holds the previous checkpoint)
			}
			if res.Next == nil {
				if res.Items != int64(len(want)) {
					t.Errorf("restore %s: %d items, want %d", table, res.Items, len(want))
				}
				break
			}
			req.Checkpoint = res.Next
		}
		if n < 2 && len(want) > 10000 {
			t.Errorf("restore of %s (%d items) finished in one invocation of %s", table, len(want), budget)
		}
		got := e.snapshot(t, req.Table)
		if len(got) != len(want) {
			t.Errorf("restored %s holds %d items, want %d", table, len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("restored %s: item %s differs or is missing", table, k)
				break
			}
		}
		t.Logf("restore %s: %d items in %d invocations", table, len(got), n)
	}
}

// killingS3 fails one part upload once failAfter parts have been written (failAfter < 0: never),
// then disarms.
type killingS3 struct {
	backup.S3API
	parts     *atomic.Int64
	failAfter *int64
}

func (f killingS3) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if strings.Contains(aws.ToString(in.Key), "/part-") {
		if limit := atomic.LoadInt64(f.failAfter); limit >= 0 && f.parts.Load() >= limit {
			atomic.StoreInt64(f.failAfter, -1)
			return nil, errors.New("injected failure: the invocation died")
		}
		f.parts.Add(1)
	}
	return f.S3API.PutObject(ctx, in, opts...)
}

// TestRestoreTestContinues runs the restore test in short invocations until it passes, and shows a
// forged continuation (a table marked passed without the MAC only a real pass carries) fails it.
func TestRestoreTestContinues(t *testing.T) {
	e := newEnv(t)
	e.r.Segments = 2
	e.r.PartItems = 200
	e.seed(t, 600)
	if _, err := e.r.Backup(context.Background()); err != nil {
		t.Fatal(err)
	}
	run := func(job backup.RestoreTestJob) (backup.RestoreTestResult, int, error) {
		for i := 1; ; i++ {
			if i > 200 {
				t.Fatal("restore test did not finish in 200 invocations")
			}
			e.r.StopMargin = margin
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond+margin)
			res, next, err := e.r.RestoreTestStep(ctx, job)
			cancel()
			if next == nil {
				return res, i, err
			}
			job = *next
		}
	}
	res, n, err := run(backup.RestoreTestJob{})
	if err != nil {
		t.Fatalf("restore test: %v", err)
	}
	if n < 2 {
		t.Errorf("restore test finished in %d invocation: the continuation was not exercised", n)
	}
	for _, tr := range res.Tables {
		if tr.Items == 0 || tr.Err != nil {
			t.Errorf("%s: %+v", tr.Table, tr)
		}
	}
	if left := e.scratchTables(t); len(left) != 0 {
		t.Errorf("scratch tables left behind: %v", left)
	}

	// A payload that claims every table passed, with no MAC: the test fails, it does not pass.
	forged := backup.RestoreTestJob{}
	for _, tr := range res.Tables {
		forged.Tables = append(forged.Tables, backup.TableTestJob{Table: tr.Table, BackupID: tr.BackupID, Finished: true, Items: tr.Items})
	}
	res, _, err = run(forged)
	if !errors.Is(err, backup.ErrTampered) {
		t.Errorf("forged continuation: %v, want %v", err, backup.ErrTampered)
	}
	for _, tr := range res.Tables {
		if tr.Err == nil {
			t.Errorf("%s passed on a forged continuation", tr.Table)
		}
	}
}
