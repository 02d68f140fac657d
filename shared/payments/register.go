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

// EnvStage is the deployment stage the CDK app declares on the payments function: StageTest or
// StageProduction. The local stack sets none.
const EnvStage = "STAGE"

// Stages.
const (
	StageTest       = "test"
	StageProduction = "production"
)

// Sandbox is the PAYMENT_PROCESSOR value of the sandbox processor.
const Sandbox = "sandbox"

// Register wires the payments function from its environment: the billing table, the vault (table and
// key; only tokens and payments are given VAULT_TABLE and VAULT_KEY_ID) and the card processor named by
// PAYMENT_PROCESSOR.
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	if err := c.Require(config.EnvVaultTable, config.EnvVaultKey); err != nil {
		return err
	}
	proc, err := NewProcessor(c.Lookup(EnvProcessor), c.Lookup(EnvStage))
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
// unset) decides by test card number and moves no money, so it refuses a production stage (see
// CheckProcessor).
func NewProcessor(name, stage string) (processor.Processor, error) {
	if err := CheckProcessor(name, stage); err != nil {
		return nil, err
	}
	switch name {
	case "", Sandbox:
		return processor.NewSandbox(), nil
	}
	return nil, fmt.Errorf("%s=%q is not a known card processor; use %s", EnvProcessor, name, Sandbox)
}

// CheckProcessor refuses the sandbox processor (name "" or "sandbox") where the stage is production:
// it approves 4242... and moves no money, so every invoice paid with it would be paid for free. The
// CDK app runs the same check at synth, and the payments function again at cold start, so neither a
// mistaken deploy nor a changed environment variable can take real payments with it. An empty stage
// is the local stack's; an unknown one is refused, so a misspelt "production" cannot pass as a test.
func CheckProcessor(name, stage string) error {
	switch stage {
	case "", StageTest, StageProduction:
	default:
		return fmt.Errorf("%s=%q is not a stage; use %s or %s", EnvStage, stage, StageTest, StageProduction)
	}
	if stage == StageProduction && (name == "" || name == Sandbox) {
		return fmt.Errorf("%s=%s with the %s card processor (%s): the sandbox moves no money and must never take payments in production; configure a real processor, or declare a test stage (%s=%s)",
			EnvStage, stage, Sandbox, EnvProcessor, EnvStage, StageTest)
	}
	return nil
}
