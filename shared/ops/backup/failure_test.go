package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

// TestCorruptionIsDetected damages a backup in each way an attacker or a fault could, and expects
// both a restore and the restore test to fail loudly and leave no table behind.
func TestCorruptionIsDetected(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.seed(t, 300)
	e.r.PartItems = 60 // many parts, so a restore has written some before it meets the bad one

	tests := []struct {
		name    string
		corrupt func(t *testing.T, m *backup.Manifest)
		want    error
	}{
		{"modified part", func(t *testing.T, m *backup.Manifest) {
			p := m.Parts[len(m.Parts)-1]
			b := e.getObject(t, p.Key)
			b[len(b)/2] ^= 0x01
			e.putObject(t, p.Key, b)
		}, backup.ErrTampered},
		{"missing part", func(t *testing.T, m *backup.Manifest) {
			e.deleteObject(t, m.Parts[len(m.Parts)/2].Key)
		}, backup.ErrIncomplete},
		{"manifest with a wrong count", func(t *testing.T, m *backup.Manifest) {
			key := "backups/" + m.Table + "/" + m.ID + "/manifest.json"
			var raw map[string]any
			if err := json.Unmarshal(e.getObject(t, key), &raw); err != nil {
				t.Fatal(err)
			}
			raw["itemCount"] = raw["itemCount"].(float64) - 1
			b, _ := json.Marshal(raw)
			e.putObject(t, key, b)
		}, backup.ErrTampered},
		{"part swapped with another", func(t *testing.T, m *backup.Manifest) {
			e.putObject(t, m.Parts[1].Key, e.getObject(t, m.Parts[0].Key))
		}, backup.ErrTampered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.r.Backup(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m := e.manifest(t, "billing", res.ID)
			if len(m.Parts) < 4 {
				t.Fatalf("backup has %d parts; the test needs several", len(m.Parts))
			}
			tt.corrupt(t, m)

			target := "restored-" + strings.ReplaceAll(tt.name, " ", "-")
			_, err = e.r.Restore(ctx, backup.RestoreRequest{Source: "billing", From: res.ID, Table: target})
			if !errors.Is(err, tt.want) {
				t.Errorf("restore: %v, want %v", err, tt.want)
			}
			if e.tableExists(t, target) {
				t.Errorf("failed restore left table %s behind", target)
			}

			tr, err := e.r.RestoreTest(ctx)
			if err == nil {
				t.Fatal("restore test passed a damaged backup")
			}
			for _, r := range tr.Tables {
				if failed := r.Err != nil; failed != (r.Table == "billing") {
					t.Errorf("restore test of %s: %v", r.Table, r.Err)
				}
			}
			if left := e.scratchTables(t); len(left) != 0 {
				t.Errorf("scratch tables left behind: %v", left)
			}
			if got := e.metricValues(t)["RestoreTestSuccess"]["billing"]; got != 0 {
				t.Errorf("RestoreTestSuccess for billing = %v, want 0", got)
			}
			recs := e.auditEvents(t, backup.EventRestoreTest)
			if last := recs[len(recs)-1]; last.ErrorCode != "RestoreTestFailed" {
				t.Errorf("restore test audit record: %s", jsonString(last))
			}
			if !strings.Contains(stacktest.Logs.String(), `"msg":"ALERT: restore test failed"`) {
				t.Error("no alert line logged")
			}
		})
	}
}

// failingS3 fails the nth PutObject and every one after it, like a function killed mid-backup.
type failingS3 struct {
	backup.S3API
	n, puts atomic.Int64
}

func (f *failingS3) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if f.puts.Add(1) >= f.n.Load() {
		return nil, errors.New("injected failure: connection reset")
	}
	return f.S3API.PutObject(ctx, in, opts...)
}

// TestInterruptedBackupIsNeverUsed checks that a backup that dies half-way has no manifest, so listing
// and restoring ignore it and use the last good backup.
func TestInterruptedBackupIsNeverUsed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.seed(t, 200)
	e.r.PartItems = 50
	good, err := e.r.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := &failingS3{S3API: e.r.S3}
	f.n.Store(3) // billing's third part: two parts are in the bucket, the manifest never is
	e.r.S3 = f
	e.r.Clock = func() time.Time { return good.Started.Add(time.Minute) }
	bad, err := e.r.Backup(ctx)
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("interrupted backup: %v", err)
	}
	e.r.S3, e.r.Clock = f.S3API, nil
	if bad.ID == good.ID {
		t.Fatal("both backups have the same id")
	}

	cats, err := e.r.List(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	if c := cats[0]; len(c.Backups) != 1 || c.Backups[0].ID != good.ID || c.Incomplete != 1 {
		t.Errorf("catalog: %d backups (first %v), %d incomplete; want only %s and 1 incomplete", len(c.Backups), c.Backups[0].ID, c.Incomplete, good.ID)
	}
	latest, err := e.r.Latest(ctx, "billing")
	if err != nil || latest != good.ID {
		t.Errorf("latest = %q, %v; want %s", latest, err, good.ID)
	}
	if _, err := e.r.Restore(ctx, backup.RestoreRequest{Source: "billing", From: bad.ID, Table: "restored-bad"}); !errors.Is(err, backup.ErrNoBackup) || e.tableExists(t, "restored-bad") {
		t.Errorf("restore of the interrupted backup: %v, want ErrNoBackup and no table", err)
	}
	rr, err := e.r.Restore(ctx, backup.RestoreRequest{Source: "billing", From: backup.Latest, Table: "restored-good"})
	if err != nil || rr.BackupID != good.ID {
		t.Errorf("restore latest: %+v, %v; want backup %s", rr, err, good.ID)
	}

	// The failed run was reported as failed.
	recs := e.auditEvents(t, backup.EventBackup)
	failed := 0
	for _, r := range recs {
		if r.ErrorCode == "BackupFailed" && r.ResponseElements["backupId"] == bad.ID {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("audit records of the failed run: %s", jsonString(recs))
	}
	if got := e.metricValues(t)["BackupSuccess"]["billing"]; got != 0 {
		t.Errorf("BackupSuccess for billing after the failed run = %v, want 0", got)
	}
}

// TestPruneKeepsTheRetentionPeriod deletes backups older than the retention period, never the newest.
func TestPruneKeepsTheRetentionPeriod(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.seed(t, 10)
	now := time.Now().UTC()
	var ids []string
	e.r.RetentionDays = 1000 // no pruning while the history is made
	for _, age := range []int{40, 36, 34, 1} {
		e.r.Clock = func() time.Time { return now.Add(-time.Duration(age) * 24 * time.Hour) }
		res, err := e.r.Backup(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	e.r.Clock, e.r.RetentionDays = func() time.Time { return now }, 35
	n, err := e.r.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2*3 {
		t.Errorf("pruned %d backups, want 6 (two per table)", n)
	}
	cats, _ := e.r.List(ctx, "vault")
	var kept []string
	for _, m := range cats[0].Backups {
		kept = append(kept, m.ID)
	}
	if strings.Join(kept, ",") != ids[3]+","+ids[2] {
		t.Errorf("kept %v, want %v", kept, []string{ids[3], ids[2]})
	}

	// Long after the schedule stopped, the newest backup of each table still survives.
	e.r.Clock = func() time.Time { return now.Add(400 * 24 * time.Hour) }
	if _, err := e.r.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	cats, _ = e.r.List(ctx)
	for _, c := range cats {
		if len(c.Backups) != 1 || c.Backups[0].ID != ids[3] {
			t.Errorf("%s after a year: %d backups; want the newest kept", c.Table, len(c.Backups))
		}
	}
	if native := e.nativeBackups(t); native != 3 {
		t.Errorf("%d native backups left, want 3 (the newest per table)", native)
	}
}
