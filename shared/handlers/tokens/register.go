package tokens

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/hostedlink"
	"github.com/vaultbill/vaultbill/shared/adapters/ratelimit"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
)

// Register wires the tokens function from its environment. Only the tokens and payments functions are
// given VAULT_TABLE and VAULT_KEY_ID; every other function is built without them. DATA_KEY_ID unwraps
// the customers' keys that seal cardholder names (shared/adapters/customerkeys; unwrap only, tokens creates none).
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	if err := c.Require(config.EnvVaultTable, config.EnvVaultKey, config.EnvDataKey); err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	limiter, err := ratelimit.FromEnv(env, db)
	if err != nil {
		return err
	}
	Routes(svc, Deps{Vault: vault.FromEnv(env, db), Attempts: limiter, Customers: db, BillingTable: c.BillingTable})
	// The hosted invoice page sends the card here, with its link instead of a token.
	svc.Capability = hostedlink.Resolver(&hostedlink.Store{DB: db, Table: c.BillingTable}, &billingdb.Store{DB: db, Table: c.BillingTable})
	return nil
}
