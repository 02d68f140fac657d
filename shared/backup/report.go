package backup

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/vaultbill/vaultbill/shared/audit"
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
	rec := audit.Record{
		EventVersion: audit.EventVersion, EventID: audit.NewEventID(), EventTime: audit.FormatTime(r.now()),
		EventSource: eventSource, EventName: name, EventType: audit.TypeServiceEvent, ReadOnly: readOnly,
		UserIdentity: audit.UserIdentity{
			Type: "AWSService", PrincipalID: r.Principal,
			SessionContext: audit.SessionContext{Attributes: audit.SessionAttributes{MFAAuthenticated: "false"}},
		},
		SourceIPAddress: eventSource, UserAgent: eventSource, RequestID: audit.NewEventID(),
		RequestParameters: params, ResponseElements: elems, Resources: res,
		RecipientAccountID: r.Account, AWSRegion: r.Region,
	}
	if err != nil {
		rec.ErrorCode = name + "Failed"
		rec.ErrorMessage = truncate(err.Error(), 512)
	}
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
	var data []cwtypes.MetricDatum
	for _, t := range res.Tables {
		tables = append(tables, t.Table)
		items += t.Items
		resources = append(resources, audit.Resource{Type: "AWS::S3::Object", ID: manifestKey(t.Table, res.ID)})
		if t.NativeBackupARN != "" {
			resources = append(resources, audit.Resource{Type: "AWS::DynamoDB::Backup", ARN: t.NativeBackupARN, ID: nativeBackupName(t.Table, res.ID)})
		}
		data = append(data,
			datum("BackupSuccess", t.Table, boolMetric(t.OK()), cwtypes.StandardUnitCount),
			datum("BackupItems", t.Table, float64(t.Items), cwtypes.StandardUnitCount),
			datum("BackupBytes", t.Table, float64(t.SealedBytes), cwtypes.StandardUnitBytes),
			datum("BackupDuration", t.Table, t.Duration.Seconds(), cwtypes.StandardUnitSeconds),
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
	r.putMetrics(ctx, data)
	if err != nil {
		r.log().Error("ALERT: backup failed", "alert", true, "backup_id", res.ID, "error", err)
	} else {
		r.log().Info("backup run succeeded", "backup_id", res.ID, "items", items, "pruned", res.Pruned)
	}
}

func (r *Runner) putMetrics(ctx context.Context, data []cwtypes.MetricDatum) {
	if r.Metrics == nil || len(data) == 0 {
		return
	}
	now := r.now()
	for i := range data {
		data[i].Timestamp = aws.Time(now)
	}
	for len(data) > 0 { // PutMetricData takes up to 1000 data per call
		batch := data[:min(1000, len(data))]
		data = data[len(batch):]
		if _, err := r.Metrics.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(Namespace), MetricData: batch}); err != nil {
			r.log().Error("ALERT: backup metrics not published", "alert", true, "error", err)
			return
		}
	}
}

func datum(name, table string, v float64, unit cwtypes.StandardUnit) cwtypes.MetricDatum {
	return cwtypes.MetricDatum{
		MetricName: aws.String(name), Value: aws.Float64(v), Unit: unit,
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Table"), Value: aws.String(table)}},
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) }
