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

// BackupEvent is the backup function's input: the EventBridge schedule's event, or the job of a
// run an earlier invocation paused.
type BackupEvent struct {
	events.EventBridgeEvent
	Continue *BackupJob `json:"continue,omitempty"`
}

// RestoreTestEvent is the restore-test function's input: the EventBridge schedule's event, or the
// job of a run an earlier invocation paused.
type RestoreTestEvent struct {
	events.EventBridgeEvent
	Continue *RestoreTestJob `json:"continue,omitempty"`
}

// HandleBackup is the backup function's handler for its EventBridge schedule (any event runs a
// backup) and its own continuations. A run that needs longer than the invocation checkpoints and
// continues in a new invocation; a failed run returns an error, so Lambda counts it in the Errors
// metric (and retries the invocation, which resumes from the checkpoints).
func (r *Runner) HandleBackup(ctx context.Context, ev BackupEvent) (Summary, error) {
	var job BackupJob
	if ev.Continue != nil {
		job = *ev.Continue
		r.log().Info("backup continued", "backup_id", job.ID, "invocation", job.Invocation)
	} else {
		r.log().Info("backup started", "event_id", ev.ID, "trigger", ev.DetailType)
	}
	res, next, err := r.BackupStep(ctx, job)
	if err == nil && next != nil {
		if err := r.continueWith(ctx, BackupEvent{Continue: next}); err != nil {
			return Summary{Operation: "backup", Outcome: "failed", BackupID: res.ID}, err
		}
		return Summary{Operation: "backup", Outcome: "continued", BackupID: res.ID}, nil
	}
	return res.Summary(), err
}

// HandleRestoreTest is the restore-test function's handler for its EventBridge schedule and its own
// continuations.
func (r *Runner) HandleRestoreTest(ctx context.Context, ev RestoreTestEvent) (Summary, error) {
	var job RestoreTestJob
	if ev.Continue != nil {
		job = *ev.Continue
		r.log().Info("restore test continued", "invocation", job.Invocation)
	} else {
		r.log().Info("restore test started", "event_id", ev.ID, "trigger", ev.DetailType)
	}
	res, next, err := r.RestoreTestStep(ctx, job)
	if err == nil && next != nil {
		if err := r.continueWith(ctx, RestoreTestEvent{Continue: next}); err != nil {
			return Summary{Operation: "restore-test", Outcome: "failed"}, err
		}
		return Summary{Operation: "restore-test", Outcome: "continued"}, nil
	}
	return res.Summary(), err
}
