package backup

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
)

// Every run reports the same way: one summary audit record (a service event), CloudWatch metrics per
// table, and a log line; a failure also logs an alert line ("alert": true) for a metric filter.

// Audit event names.
const (
	EventBackup      = "Backup"
	EventRestore     = "RestoreTable"
	EventRestoreTest = "RestoreTest"
)

// eventSource is the audit records' eventSource.
const eventSource = "backup.vaultbill"

func (r *Runner) record(name string, readOnly bool, params, elems map[string]string, err error, res ...audit.Resource) audit.Record {
	rec := audit.Service{Source: eventSource, Principal: r.Principal, Account: r.Account, Region: r.Region}.Record(name, r.Clock.Now(), err)
	rec.ReadOnly, rec.RequestParameters, rec.ResponseElements, rec.Resources = readOnly, params, elems, res
	return rec
}

// writeAudit writes the record; a failure to audit is logged as an alert and returned.
func (r *Runner) writeAudit(ctx context.Context, rec audit.Record) error {
	if r.Audit == nil {
		return nil
	}
	if err := r.Audit.Put(ctx, rec); err != nil {
		r.log().Error("ALERT: audit record not written", "alert", true, "event", rec.EventName, "error", err)
		return err
	}
	return nil
}

func (r *Runner) reportBackup(ctx context.Context, res BackupResult, err error) {
	var tables []string
	var items int64
	var resources []audit.Resource
	for _, t := range res.Tables {
		tables = append(tables, t.Table)
		items += t.Items
		resources = append(resources, audit.Resource{Type: "AWS::S3::Object", ID: manifestKey(t.Table, res.ID)})
		if t.NativeBackupARN != "" {
			resources = append(resources, audit.Resource{Type: "AWS::DynamoDB::Backup", ARN: t.NativeBackupARN, ID: nativeBackupName(t.Table, res.ID)})
		}
		r.emitMetrics(t.Table,
			metric{metricBackupSuccess, boolMetric(t.OK()), "Count"},
			metric{"BackupItems", float64(t.Items), "Count"},
			metric{"BackupBytes", float64(t.SealedBytes), "Bytes"},
			metric{"BackupDuration", t.Duration.Seconds(), "Seconds"},
		)
		if t.OK() {
			r.log().Info("backup", "table", t.Table, "backup_id", res.ID, "items", t.Items, "parts", t.Parts,
				"sealed_bytes", t.SealedBytes, "native_backup", t.NativeBackupARN, "duration_ms", t.Duration.Milliseconds())
		}
	}
	rec := r.record(EventBackup, false, map[string]string{"tables": strings.Join(tables, ",")},
		map[string]string{"backupId": res.ID, "items": strconv.FormatInt(items, 10), "pruned": strconv.Itoa(res.Pruned), "outcome": outcome(err)},
		err, resources...)
	_ = r.writeAudit(ctx, rec)
	if err != nil {
		r.log().Error("ALERT: backup failed", "alert", true, "backup_id", res.ID, "error", err)
	} else {
		r.log().Info("backup run succeeded", "backup_id", res.ID, "items", items, "pruned", res.Pruned)
	}
}

// metric is one value of an EMF line.
type metric struct {
	name  string
	value float64
	unit  string
}

// emitMetrics writes one table's metrics as a CloudWatch Embedded Metric Format line: in Lambda,
// CloudWatch Logs turns it into metrics with no API call and no extra permission. The line goes to
// its own writer, not through the logger, because it holds only names and numbers and its
// millisecond timestamp must reach CloudWatch exactly as written.
func (r *Runner) emitMetrics(table string, ms ...metric) {
	if r.Metrics == nil {
		return
	}
	defs := make([]map[string]string, len(ms))
	line := map[string]any{"Table": table}
	for i, m := range ms {
		defs[i] = map[string]string{"Name": m.name, "Unit": m.unit}
		line[m.name] = m.value
	}
	line["_aws"] = map[string]any{
		"Timestamp": r.Clock.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace": Namespace, "Dimensions": [][]string{{"Table"}}, "Metrics": defs,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		r.log().Error("ALERT: backup metrics not written", "alert", true, "error", err)
		return
	}
	r.metricsMu.Lock()
	defer r.metricsMu.Unlock()
	if _, err := r.Metrics.Write(append(b, '\n')); err != nil {
		r.log().Error("ALERT: backup metrics not written", "alert", true, "error", err)
	}
}

func boolMetric(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}

func outcome(err error) string {
	if err != nil {
		return "failed"
	}
	return "succeeded"
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) }
