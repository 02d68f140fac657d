package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// TestResult is the restore test's outcome for one table.
type TestResult struct {
	Table, BackupID, ScratchTable string
	Items                         int64
	Age, Duration                 time.Duration
	// VaultKey says what the vault key proof found: "decrypted" (the vault backup's canary data key
	// decrypted under the vault key), or "" (not the vault).
	VaultKey string
	Err      error
}

// RestoreTestResult is the outcome of one restore test run.
type RestoreTestResult struct {
	Tables []TestResult
}

// Err joins every table's failure, or is nil.
func (t RestoreTestResult) Err() error {
	var errs []error
	for _, r := range t.Tables {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Table, r.Err))
		}
	}
	return errors.Join(errs...)
}

// ErrStale reports that a table's newest complete backup is older than MaxAge.
var ErrStale = errors.New("newest backup is too old")

// RestoreTest restores the newest backup of every table into a scratch table named
// RestoreTestPrefix+..., verifies it against its manifest, proves the vault key still decrypts the
// canary data key the vault backup carries (never a card data key), deletes the scratch table, and
// reports the outcome. It runs to the end in this call; RestoreTestStep is the same work in
// invocations that stop before a deadline.
func (r *Runner) RestoreTest(ctx context.Context) (RestoreTestResult, error) {
	res, _, err := r.restoreTestStep(ctx, RestoreTestJob{}, time.Time{})
	return res, err
}

// RestoreTestJob is what one restore-test invocation hands to the next: each table's progress.
type RestoreTestJob struct {
	Tables []TableTestJob `json:"tables"`
	// Invocation counts the invocations of the run so far (0 for the first).
	Invocation int `json:"invocation"`
}

// TableTestJob is one table's restore test in progress or finished. A finished pass carries a MAC
// under the backup's data key: a forged payload can fail a test, never pass one.
type TableTestJob struct {
	Table        string             `json:"table"`
	BackupID     string             `json:"backupId,omitempty"`
	ScratchTable string             `json:"scratchTable,omitempty"`
	Checkpoint   *RestoreCheckpoint `json:"checkpoint,omitempty"`
	Finished     bool               `json:"finished,omitempty"`
	Items        int64              `json:"items,omitempty"`
	VaultKey     string             `json:"vaultKey,omitempty"`
	Err          string             `json:"error,omitempty"`
	// Millis is the time spent on the table so far, over all invocations.
	Millis int64  `json:"millis,omitempty"`
	MAC    []byte `json:"mac,omitempty"`
}

func (t *TableTestJob) body() []byte {
	x := *t
	x.MAC, x.Checkpoint, x.Millis = nil, nil, 0
	b, _ := json.Marshal(x) // plain data: cannot fail
	return append([]byte("restore-test-result\x00"), b...)
}

// RestoreTestStep does one invocation's share of a restore test, until ctx's deadline less the stop
// margin. It returns the job to continue with, or nil when the test is over (then it has reported).
func (r *Runner) RestoreTestStep(ctx context.Context, job RestoreTestJob) (RestoreTestResult, *RestoreTestJob, error) {
	return r.restoreTestStep(ctx, job, r.stopAt(ctx))
}

func (r *Runner) restoreTestStep(ctx context.Context, job RestoreTestJob, stop time.Time) (RestoreTestResult, *RestoreTestJob, error) {
	if len(job.Tables) == 0 {
		for _, s := range r.Tables {
			job.Tables = append(job.Tables, TableTestJob{Table: s.Def.ID})
		}
	}
	for i := range job.Tables {
		tj := &job.Tables[i]
		if tj.Finished {
			continue
		}
		s, err := r.Source(tj.Table)
		if err != nil {
			return RestoreTestResult{}, nil, err
		}
		if paused := r.restoreTestTable(ctx, s, tj, stop); paused {
			job.Invocation++
			return RestoreTestResult{}, &job, nil
		}
	}
	var res RestoreTestResult
	for i := range job.Tables {
		res.Tables = append(res.Tables, r.testResult(ctx, &job.Tables[i]))
	}
	err := res.Err()
	r.reportRestoreTest(ctx, res, err)
	return res, nil, err
}

// testResult turns a finished table job into its result, authenticating a pass.
func (r *Runner) testResult(ctx context.Context, tj *TableTestJob) TestResult {
	tr := TestResult{Table: tj.Table, BackupID: tj.BackupID, ScratchTable: tj.ScratchTable, Items: tj.Items, VaultKey: tj.VaultKey,
		Duration: time.Duration(tj.Millis) * time.Millisecond}
	if t, err := time.Parse(IDLayout, tj.BackupID); err == nil {
		tr.Age = r.Clock.Now().Sub(t)
	}
	if tj.Err != "" {
		tr.Err = errors.New(tj.Err)
		return tr
	}
	m, err := r.readManifest(ctx, tj.Table, tj.BackupID)
	if err == nil {
		var k *dataKey
		if k, err = r.openKey(ctx, m); err == nil {
			err = k.verifyMAC(tj.body(), tj.MAC)
		}
	}
	if err != nil {
		tr.Err = fmt.Errorf("restore test result of %s/%s: %w", tj.Table, tj.BackupID, err)
		return tr
	}
	if maxAge := r.maxAge(); tr.Age > maxAge {
		tr.Err = fmt.Errorf("backup %s is %s old (limit %s): %w", tj.BackupID, tr.Age.Round(time.Minute), maxAge, ErrStale)
	}
	return tr
}

// restoreTestTable restores one table's newest backup into a scratch table as far as stop allows,
// and reports whether it paused; otherwise tj is finished.
func (r *Runner) restoreTestTable(ctx context.Context, s Source, tj *TableTestJob, stop time.Time) (paused bool) {
	start := time.Now()
	defer func() { tj.Millis += time.Since(start).Milliseconds() }()
	fail := func(err error) bool { tj.Finished, tj.Err, tj.Checkpoint = true, err.Error(), nil; return false }
	if tj.BackupID == "" {
		id, err := r.Latest(ctx, s.Def.ID)
		if err != nil {
			return fail(err)
		}
		tj.BackupID, tj.ScratchTable = id, scratchName(s.Def.ID)
	}
	res, err := r.restoreUntil(ctx, RestoreRequest{Source: s.Def.ID, From: tj.BackupID, Table: tj.ScratchTable, Checkpoint: tj.Checkpoint, scratch: true}, stop)
	if err != nil {
		return fail(err) // restore has already deleted the scratch table
	}
	if res.Next != nil {
		tj.Checkpoint = res.Next
		return true
	}
	tj.Checkpoint = nil
	defer r.dropTable(ctx, tj.ScratchTable)
	if s.Def.ID == resources.Vault.ID {
		// The canary, not a card data key: the restore test may not read a card (DESIGN §6.8).
		if err := openCanary(ctx, r.KMS, res.manifest); err != nil {
			return fail(err)
		}
		tj.VaultKey = "decrypted"
	}
	k, err := r.openKey(ctx, res.manifest)
	if err != nil {
		return fail(err)
	}
	tj.Finished, tj.Items = true, res.Items
	tj.MAC = k.mac(tj.body())
	return false
}

func (r *Runner) maxAge() time.Duration {
	if r.MaxAge > 0 {
		return r.MaxAge
	}
	return DefaultMaxAge
}

func scratchName(table string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return RestoreTestPrefix + table + "-" + hex.EncodeToString(b[:])
}

func (r *Runner) reportRestoreTest(ctx context.Context, res RestoreTestResult, err error) {
	var resources []audit.Resource
	elems := map[string]string{"outcome": outcome(err)}
	for _, t := range res.Tables {
		ms := []metric{
			{metricRestoreTestSuccess, boolMetric(t.Err == nil), "Count"},
			{"RestoreTestItems", float64(t.Items), "Count"},
			{"RestoreTestDuration", t.Duration.Seconds(), "Seconds"},
		}
		if t.BackupID != "" {
			ms = append(ms, metric{metricBackupAge, t.Age.Seconds(), "Seconds"})
			resources = append(resources, audit.Resource{Type: "AWS::S3::Object", ID: manifestKey(t.Table, t.BackupID)})
		}
		r.emitMetrics(t.Table, ms...)
		elems[t.Table+"BackupId"] = t.BackupID
		elems[t.Table+"Items"] = strconv.FormatInt(t.Items, 10)
		if t.Err != nil {
			r.log().Error("ALERT: restore test failed", "alert", true, "table", t.Table, "backup_id", t.BackupID,
				"scratch_table", t.ScratchTable, "error", t.Err)
		} else {
			r.log().Info("restore test passed", "table", t.Table, "backup_id", t.BackupID, "items", t.Items,
				"age", t.Age.Round(time.Second).String(), "vault_key", t.VaultKey, "duration_s", seconds(t.Duration))
		}
	}
	_ = r.writeAudit(ctx, r.record(EventRestoreTest, true, nil, elems, err, resources...))
}
