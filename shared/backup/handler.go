package backup

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

// Summary is what the scheduled functions return (and `vaultbill invoke` prints).
type Summary struct {
	Operation string         `json:"operation"`
	Outcome   string         `json:"outcome"`
	BackupID  string         `json:"backupId,omitempty"`
	Pruned    int            `json:"pruned,omitempty"`
	Tables    []TableSummary `json:"tables"`
}

// TableSummary is one table's line of a Summary.
type TableSummary struct {
	Table           string `json:"table"`
	BackupID        string `json:"backupId,omitempty"`
	Items           int64  `json:"items"`
	Parts           int    `json:"parts,omitempty"`
	SealedBytes     int64  `json:"sealedBytes,omitempty"`
	NativeBackupARN string `json:"nativeBackupArn,omitempty"`
	ScratchTable    string `json:"scratchTable,omitempty"`
	VaultKey        string `json:"vaultKey,omitempty"`
	Error           string `json:"error,omitempty"`
}

// Summary renders a backup run.
func (b BackupResult) Summary() Summary {
	s := Summary{Operation: "backup", Outcome: outcome(b.Err()), BackupID: b.ID, Pruned: b.Pruned}
	for _, t := range b.Tables {
		ts := TableSummary{Table: t.Table, BackupID: t.BackupID, Items: t.Items, Parts: t.Parts,
			SealedBytes: t.SealedBytes, NativeBackupARN: t.NativeBackupARN}
		if t.Err != nil {
			ts.Error = t.Err.Error()
		} else if t.NativeErr != nil {
			ts.Error = "native backup: " + t.NativeErr.Error()
		}
		s.Tables = append(s.Tables, ts)
	}
	return s
}

// Summary renders a restore test run.
func (t RestoreTestResult) Summary() Summary {
	s := Summary{Operation: "restore-test", Outcome: outcome(t.Err())}
	for _, r := range t.Tables {
		ts := TableSummary{Table: r.Table, BackupID: r.BackupID, Items: r.Items, ScratchTable: r.ScratchTable, VaultKey: r.VaultKey}
		if r.Err != nil {
			ts.Error = r.Err.Error()
		}
		s.Tables = append(s.Tables, ts)
	}
	return s
}

// HandleBackup is the backup function's handler for its EventBridge schedule (any event runs a
// backup). A failed run returns an error, so Lambda counts it in the Errors metric.
func (r *Runner) HandleBackup(ctx context.Context, ev events.EventBridgeEvent) (Summary, error) {
	r.log().Info("backup started", "event_id", ev.ID, "trigger", ev.DetailType)
	res, err := r.Backup(ctx)
	return res.Summary(), err
}

// HandleRestoreTest is the restore-test function's handler for its EventBridge schedule.
func (r *Runner) HandleRestoreTest(ctx context.Context, ev events.EventBridgeEvent) (Summary, error) {
	r.log().Info("restore test started", "event_id", ev.ID, "trigger", ev.DetailType)
	res, err := r.RestoreTest(ctx)
	return res.Summary(), err
}
