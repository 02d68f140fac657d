// Package payments wires the payments function: the billing table, the vault, the card-attempt
// limiter and the card processor named by PAYMENT_PROCESSOR.
package payments

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/cards"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	return wiring.HTTP(routes.Payments, Register)(env)
}

// Register adds the pay routes.
func Register(env wiring.Env, svc *endpoint.Service) error {
	if err := cards.Require(env); err != nil {
		return err
	}
	proc, err := processor.New(env.Config.Lookup(processor.EnvProcessor), env.Config.Lookup(processor.EnvStage))
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	limiter, err := cards.Limiter(env, db)
	if err != nil {
		return err
	}
	cards.HostedLinks(env, svc, db)
	payments.Routes(svc, payments.Deps{
		Attempts:  limiter,
		Store:     &billingdb.Store{DB: db, Table: env.Config.BillingTable},
		Vault:     cards.Vault(env, db),
		Processor: proc,
	})
	return nil
}
