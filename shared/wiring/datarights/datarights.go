// Package datarights wires the data-rights function: the billing table, customer keys (data key,
// customer-data purpose), the vault table's token metadata and the erasure ledger. It has no vault
// key: it never seals or opens a card.
package datarights

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/erasures"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/datarights"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	return wiring.HTTP(routes.DataRights, Register)(env)
}

// Register adds the export and erasure routes.
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	if err := c.Require(config.EnvDataKey, config.EnvVaultTable, config.EnvBackupBucket); err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	keys := customerkeys.New(kms.NewFromConfig(env.AWS), db, c.BillingTable, c.DataKeyID)
	// The vault is used for token metadata only (List makes no KMS call), so it gets no key id.
	v := vault.New(vault.Config{DB: db, Table: c.VaultTable})
	// The erasure ledger lives in the backup bucket, outside every backed-up table (shared/adapters/erasures).
	ledger := &erasures.Ledger{S3: s3client.New(env.AWS), Bucket: c.BackupBucket}
	datarights.Routes(svc, &datarights.Handlers{Store: &billingdb.Store{DB: db, Table: c.BillingTable, Keys: keys}, Tokens: v,
		Erase: datarights.Eraser{Ledger: ledger, Keys: keys, DB: db, VaultTable: c.VaultTable}})
	return nil
}
