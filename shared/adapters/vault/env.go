package vault

import (
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
)

// FromEnv builds the card vault of the tokens and payments functions, once per cold start. Cardholder
// names are sealed under the customers' own keys: the billing table's key items, unwrapped with the
// data key (DATA_KEY_ID).
func FromEnv(env wiring.Env, db DB) *Vault {
	client := kms.NewFromConfig(env.AWS)
	return New(Config{
		DB: db, KMS: client, Table: env.Config.VaultTable, KeyID: env.Config.VaultKeyID,
		Audit:        &audit.Store{DB: db, Table: env.Config.AuditTable, Alert: &audit.Alerter{Log: env.Log, Metrics: env.Metrics}},
		CustomerKeys: customerkeys.New(client, db, env.Config.BillingTable, env.Config.DataKeyID),
	})
}
