package payments

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/billingdb"
	"github.com/vaultbill/vaultbill/shared/config"
	"github.com/vaultbill/vaultbill/shared/endpoint"
	"github.com/vaultbill/vaultbill/shared/processor"
	"github.com/vaultbill/vaultbill/shared/ratelimit"
	"github.com/vaultbill/vaultbill/shared/vault"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// EnvProcessor names the card processor of the payments function: "sandbox" (the default) decides by
// test card number and moves no money.
const EnvProcessor = "PAYMENT_PROCESSOR"

// Register wires the payments function from its environment: the billing table, the vault (table and
// key; only tokens and payments are given VAULT_TABLE and VAULT_KEY_ID) and the card processor named by
// PAYMENT_PROCESSOR.
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	if err := c.Require(config.EnvVaultTable, config.EnvVaultKey); err != nil {
		return err
	}
	proc, err := NewProcessor(c.Lookup(EnvProcessor))
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	limiter, err := ratelimit.FromEnv(env, db)
	if err != nil {
		return err
	}
	Routes(svc, Deps{
		Attempts:  limiter,
		Store:     &billingdb.Store{DB: db, Table: c.BillingTable},
		Vault:     vault.FromEnv(env, db),
		Processor: proc,
	})
	return nil
}

// NewProcessor returns the card processor named by PAYMENT_PROCESSOR: "sandbox" (the default when
// unset) decides by test card number and moves no money.
func NewProcessor(name string) (processor.Processor, error) {
	switch name {
	case "", "sandbox":
		return processor.NewSandbox(), nil
	}
	return nil, fmt.Errorf("%s=%q is not a known card processor; use sandbox", EnvProcessor, name)
}
