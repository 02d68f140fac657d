package backup

import (
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Principals of the scheduled functions in audit records.
const (
	BackupPrincipal      = "backup.vaultbill"
	RestoreTestPrincipal = "restore-test.vaultbill"
)

// FromEnv builds the runner of the backup function: it reads every table and writes the backup
// bucket, and has the vault key generate each vault backup's canary. principal names who runs it in
// audit records.
func FromEnv(env wiring.Env, principal string) (*Runner, error) {
	c := env.Config
	if err := c.Require(config.EnvBillingTable, config.EnvVaultTable, config.EnvAuditTable,
		config.EnvBackupBucket, config.EnvBackupKey, config.EnvVaultKey); err != nil {
		return nil, err
	}
	days := DefaultRetentionDays
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
	return &Runner{
		DB: db, S3: s3client.New(env.AWS), KMS: kms.NewFromConfig(env.AWS), Metrics: os.Stdout,
		Audit: &audit.Store{DB: db, Table: c.AuditTable}, Log: env.Log,
		Bucket: c.BackupBucket, KeyID: c.BackupKeyID, VaultKeyID: c.VaultKeyID,
		Tables: Sources(
			func(t resources.Table) string { return names[t.ID] },
			func(keyID string) string { return keys[keyID] }),
		RetentionDays: days,
		Reinvoke:      reinvokerFromEnv(env.AWS),
		Principal:     principal,
		Account:       c.Account, Region: c.Region,
	}, nil
}

// RestoreTestFromEnv builds the runner of the restore-test function, which also needs the table keys (its
// scratch tables are encrypted like the originals).
func RestoreTestFromEnv(env wiring.Env, principal string) (*Runner, error) {
	if err := env.Config.Require(config.EnvDataKey); err != nil {
		return nil, err
	}
	return FromEnv(env, principal)
}
