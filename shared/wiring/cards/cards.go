// Package cards builds what the two functions that touch card data (tokens and payments) share: the
// vault and the card-attempt limiter. Only they are given VAULT_TABLE and VAULT_KEY_ID; every other
// function is built without them.
package cards

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/hostedlink"
	"github.com/vaultbill/vaultbill/shared/adapters/ratelimit"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Require fails unless the vault's table and key and the data key are configured.
func Require(env wiring.Env) error {
	return env.Config.Require(config.EnvVaultTable, config.EnvVaultKey, config.EnvDataKey)
}

// Vault builds the card vault, once per cold start. Cardholder names are sealed under the customers'
// own keys: the billing table's key items, unwrapped with the data key (DATA_KEY_ID; unwrap only).
func Vault(env wiring.Env, db *dynamodb.Client) *vault.Vault {
	client := kms.NewFromConfig(env.AWS)
	c := env.Config
	return vault.New(vault.Config{
		DB: db, KMS: client, Table: c.VaultTable, KeyID: c.VaultKeyID,
		Audit:        wiring.Audit(env, db),
		CustomerKeys: customerkeys.New(client, db, c.BillingTable, c.DataKeyID),
	})
}

// Limiter builds the card-attempt limiter over the billing table. A malformed CARD_ATTEMPT_LIMIT or
// CARD_ATTEMPT_WINDOW stops the function at cold start.
func Limiter(env wiring.Env, db ratelimit.DB) (*ratelimit.Limiter, error) {
	cfg, err := ratelimit.ConfigFrom(env.Config)
	if err != nil {
		return nil, err
	}
	return &ratelimit.Limiter{DB: db, Table: env.Config.BillingTable, Config: cfg}, nil
}

// HostedLinks lets the hosted invoice page send a card or pay with its link instead of a token.
func HostedLinks(env wiring.Env, svc *endpoint.Service, db *dynamodb.Client) {
	table := env.Config.BillingTable
	svc.Capability = hostedlink.Resolver(&hostedlink.Store{DB: db, Table: table}, &billingdb.Store{DB: db, Table: table})
}
