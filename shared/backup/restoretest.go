package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vaultbill/vaultbill/shared/audit"
	"github.com/vaultbill/vaultbill/shared/resources"
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
// reports the outcome.
func (r *Runner) RestoreTest(ctx context.Context) (RestoreTestResult, error) {
	var res RestoreTestResult
	for _, s := range r.Tables {
		res.Tables = append(res.Tables, r.restoreTestTable(ctx, s))
	}
	err := res.Err()
	r.reportRestoreTest(ctx, res, err)
	return res, err
}

func (r *Runner) restoreTestTable(ctx context.Context, s Source) (tr TestResult) {
	start := time.Now()
	tr = TestResult{Table: s.Def.ID, ScratchTable: scratchName(s.Def.ID)}
	defer func() { tr.Duration = time.Since(start) }()
	id, err := r.Latest(ctx, s.Def.ID)
	if err != nil {
		tr.Err = err
		return tr
	}
	tr.BackupID = id
	if t, err := time.Parse(IDLayout, id); err == nil {
		tr.Age = r.now().Sub(t)
	}
	res, err := r.restore(ctx, RestoreRequest{Source: s.Def.ID, From: id, Table: tr.ScratchTable, scratch: true})
	if err != nil {
		tr.Err = err // restore has already deleted the scratch table
		return tr
	}
	defer r.dropTable(ctx, tr.ScratchTable)
	tr.Items = res.Items
	if s.Def.ID == resources.Vault.ID {
		// The canary, not a card data key: the restore test may not read a card (DESIGN §6.8).
		if err := openCanary(ctx, r.KMS, res.manifest); err != nil {
			tr.Err = err
			return tr
		}
		tr.VaultKey = "decrypted"
	}
	if maxAge := r.maxAge(); tr.Age > maxAge {
		tr.Err = fmt.Errorf("backup %s is %s old (limit %s): %w", id, tr.Age.Round(time.Minute), maxAge, ErrStale)
	}
	return tr
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
			{"RestoreTestSuccess", boolMetric(t.Err == nil), "Count"},
			{"RestoreTestItems", float64(t.Items), "Count"},
			{"RestoreTestDuration", t.Duration.Seconds(), "Seconds"},
		}
		if t.BackupID != "" {
			ms = append(ms, metric{"BackupAge", t.Age.Seconds(), "Seconds"})
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
