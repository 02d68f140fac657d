// Package backup owns Vaultbill's backups: encrypted logical exports of the tables to S3 with native
// DynamoDB backups beside them, their manifests and retention, restores into new tables, and the
// restore test that proves the newest backups restore.
package backup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// DynamoDBAPI is the DynamoDB calls backups and restores make.
type DynamoDBAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	CreateBackup(ctx context.Context, in *dynamodb.CreateBackupInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateBackupOutput, error)
	ListBackups(ctx context.Context, in *dynamodb.ListBackupsInput, opts ...func(*dynamodb.Options)) (*dynamodb.ListBackupsOutput, error)
	DeleteBackup(ctx context.Context, in *dynamodb.DeleteBackupInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteBackupOutput, error)
}

// S3API is the S3 calls on the backup bucket.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

// KMSAPI is the KMS calls: a data key per table per backup and the vault key canary, an unwrap per
// restore, and the restore test's proof that the vault key still decrypts the canary.
type KMSAPI interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	GenerateDataKeyWithoutPlaintext(ctx context.Context, in *kms.GenerateDataKeyWithoutPlaintextInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyWithoutPlaintextOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Source is one table that is backed up.
type Source struct {
	Def resources.Table
	// Name is the physical table name.
	Name string
	// TableKeyID is the KMS key that encrypts the table at rest; restored tables use it too.
	TableKeyID string
}

// Principals of the scheduled functions in audit records.
const (
	BackupPrincipal      = "backup.vaultbill"
	RestoreTestPrincipal = "restore-test.vaultbill"
)

// Defaults.
const (
	// DefaultRetentionDays keeps five weeks of daily backups.
	DefaultRetentionDays = resources.BackupRetentionDays
	// DefaultSegments is the parallel scan's TotalSegments.
	DefaultSegments = 4
	// DefaultPartItems caps the items of one part; DefaultPartBytes its uncompressed size.
	DefaultPartItems = 10000
	DefaultPartBytes = 16 << 20
	// DefaultMaxAge is how old the newest backup may be before the restore test fails it as stale.
	DefaultMaxAge = resources.MaxBackupAge
	// RestoreTestPrefix starts every scratch table's name, locally and in AWS, so IAM can allow the
	// restore test to create and delete those tables and no others.
	RestoreTestPrefix = resources.RestoreTestTablePrefix
	// Namespace is the CloudWatch namespace of the metrics.
	Namespace = resources.BackupMetricNamespace
)

// The metrics the alarms watch (the others are for dashboards).
const (
	metricBackupSuccess      = resources.MetricBackupSuccess
	metricRestoreTestSuccess = resources.MetricRestoreTestSuccess
	metricBackupAge          = resources.MetricBackupAge
)

// Runner backs up, lists, prunes, restores and restore-tests. The backup and restore-test functions
// and the CLI all use it.
type Runner struct {
	DB  DynamoDBAPI
	S3  S3API
	KMS KMSAPI
	// Metrics receives the CloudWatch Embedded Metric Format lines (stdout in Lambda; nil: none).
	Metrics   io.Writer
	metricsMu sync.Mutex
	Audit     *audit.Store
	Log       *slog.Logger

	Bucket string
	// KeyID is the backup KMS key.
	KeyID string
	// VaultKeyID is the vault KMS key: each backup of the vault table carries a canary data key it
	// generated, which the restore test decrypts to prove the key still works.
	VaultKeyID string
	Tables     []Source

	RetentionDays int
	Segments      int
	PartItems     int
	PartBytes     int
	// PageItems caps a scan page (DefaultPageItems).
	PageItems int
	MaxAge    time.Duration

	// Principal names who runs the work in audit records: the function, or the operator at the CLI.
	Principal       string
	Account, Region string

	// Reinvoke continues a run that paused before its invocation deadline (nil outside Lambda).
	Reinvoke *Reinvoker
	// StopMargin is how long before an invocation's deadline work stops to checkpoint
	// (DefaultStopMargin, or a tenth of the time left if that is less).
	StopMargin time.Duration
	keysMu     sync.Mutex
	keys       map[string]*dataKey

	// Observe, if set, is told when work on a table starts and ends, to draw progress.
	Observe func(m *Meter, done bool)
	// Now is the clock (time.Now if nil).
	Clock clock.Func
}

// Meter counts one table's progress. The counters are updated while the work runs and may be read
// concurrently.
type Meter struct {
	Table string
	// Phase is "backup", "restore" or "verify".
	Phase string
	// TotalItems and TotalParts are what is expected (0 when unknown; a backup's item total is
	// DynamoDB's estimate).
	TotalItems, TotalParts int64
	Items, Bytes, Parts    atomic.Int64
}

func (r *Runner) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

func (r *Runner) observe(m *Meter, done bool) {
	if r.Observe != nil {
		r.Observe(m, done)
	}
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Source returns the backed-up table with logical id (billing, vault or audit).
func (r *Runner) Source(id string) (Source, error) {
	var ids []string
	for _, s := range r.Tables {
		if s.Def.ID == id {
			return s, nil
		}
		ids = append(ids, s.Def.ID)
	}
	return Source{}, fmt.Errorf("unknown table %q: backed-up tables are %v", id, ids)
}

// Sources builds the backed-up tables from resource names and key ids: every table in
// resources.Tables, with the physical names and table keys given by name and key.
func Sources(name func(resources.Table) string, key func(keyID string) string) []Source {
	out := make([]Source, 0, len(resources.Tables))
	for _, t := range resources.Tables {
		out = append(out, Source{Def: t, Name: name(t), TableKeyID: key(t.KeyID)})
	}
	return out
}
