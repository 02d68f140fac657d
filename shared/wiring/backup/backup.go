// Package backup wires the scheduled backup and restore-test functions. The backup reads every table
// and writes the backup bucket, and has the vault key generate each vault backup's canary; the restore
// test also needs the table keys (its scratch tables are encrypted like the originals).
package backup

import (
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Build is the backup function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	r, err := New(env, backup.BackupPrincipal)
	return wiring.Handler{Func: r.HandleBackup}, err
}

// BuildRestoreTest is the restore-test function's cold start.
func BuildRestoreTest(env wiring.Env) (wiring.Handler, error) {
	r, err := NewRestoreTest(env, backup.RestoreTestPrincipal)
	return wiring.Handler{Func: r.HandleRestoreTest}, err
}

// New builds the runner of the backup function; principal names who runs it in audit records (the
// CLI runs backups and restores as its user).
func New(env wiring.Env, principal string) (*backup.Runner, error) {
	c := env.Config
	if err := c.Require(config.EnvBillingTable, config.EnvVaultTable, config.EnvAuditTable,
		config.EnvBackupBucket, config.EnvBackupKey, config.EnvVaultKey); err != nil {
		return nil, err
	}
	days := backup.DefaultRetentionDays
	if c.BackupRetentionDays != "" {
		n, err := strconv.Atoi(c.BackupRetentionDays)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s=%q: want a whole number of days, at least 1", config.EnvBackupRetentionDays, c.BackupRetentionDays)
		}
		days = n
	}
	db := dynamodb.NewFromConfig(env.AWS)
	names := map[string]string{
		resources.Billing.ID: c.BillingTable, resources.Vault.ID: c.VaultTable, resources.Audit.ID: c.AuditTable,
	}
	keys := map[string]string{resources.DataKey: c.DataKeyID, resources.VaultKey: c.VaultKeyID}
	r := &backup.Runner{
		DB: db, S3: s3client.New(env.AWS), KMS: kms.NewFromConfig(env.AWS), Metrics: os.Stdout,
		Audit: wiring.Audit(env, db), Log: env.Log,
		Bucket: c.BackupBucket, KeyID: c.BackupKeyID, VaultKeyID: c.VaultKeyID,
		Tables: backup.Sources(
			func(t resources.Table) string { return names[t.ID] },
			func(keyID string) string { return keys[keyID] }),
		RetentionDays: days,
		Principal:     principal,
		Account:       c.Account, Region: c.Region,
	}
	// In Lambda, a run that nears its deadline continues in a new invocation of the same function.
	if fn := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); fn != "" {
		r.Reinvoke = &backup.Reinvoker{Function: fn, Config: env.AWS}
	}
	return r, nil
}

// NewRestoreTest builds the runner of the restore-test function.
func NewRestoreTest(env wiring.Env, principal string) (*backup.Runner, error) {
	if err := env.Config.Require(config.EnvDataKey); err != nil {
		return nil, err
	}
	return New(env, principal)
}
