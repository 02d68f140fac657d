package payments

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/hostedlink"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/adapters/ratelimit"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
)

// Register wires the payments function from its environment: the billing table, the vault (table and
// key; only tokens and payments are given VAULT_TABLE and VAULT_KEY_ID), the data key to unwrap the
// customers' keys that seal cardholder names, and the card processor named by PAYMENT_PROCESSOR.
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	if err := c.Require(config.EnvVaultTable, config.EnvVaultKey, config.EnvDataKey); err != nil {
		return err
	}
	proc, err := processor.New(c.Lookup(processor.EnvProcessor), c.Lookup(processor.EnvStage))
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	limiter, err := ratelimit.FromEnv(env, db)
	if err != nil {
		return err
	}
	// The hosted invoice page pays here, with its link instead of a token.
	svc.Capability = hostedlink.Resolver(&hostedlink.Store{DB: db, Table: c.BillingTable}, &billingdb.Store{DB: db, Table: c.BillingTable})
	Routes(svc, Deps{
		Attempts:  limiter,
		Store:     &billingdb.Store{DB: db, Table: c.BillingTable},
		Vault:     vault.FromEnv(env, db),
		Processor: proc,
	})
	return nil
}
