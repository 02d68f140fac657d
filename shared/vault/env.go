package vault

import (
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/audit"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// FromEnv builds the card vault of the tokens and payments functions, once per cold start.
func FromEnv(env wiring.Env, db DB) *Vault {
	return New(Config{
		DB: db, KMS: kms.NewFromConfig(env.AWS), Table: env.Config.VaultTable, KeyID: env.Config.VaultKeyID,
		Audit: &audit.Store{DB: db, Table: env.Config.AuditTable, Alert: &audit.Alerter{Log: env.Log, Metrics: env.Metrics}},
	})
}
