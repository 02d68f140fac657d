// Package creditnotes wires the credit-notes function: the billing table and the card processor named
// by PAYMENT_PROCESSOR. It has no vault: a refund names a charge, never a card.
package creditnotes

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/creditnotes"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	return wiring.HTTP(routes.CreditNotes, Register)(env)
}

// Register adds the credit note routes.
func Register(env wiring.Env, svc *endpoint.Service) error {
	// The same processor as the payments function's, named by PAYMENT_PROCESSOR and PROCESSOR_STAGE.
	proc, err := processor.New(env.Config.Lookup(processor.EnvProcessor), env.Config.Lookup(processor.EnvStage))
	if err != nil {
		return err
	}
	creditnotes.Routes(svc, creditnotes.Deps{
		Store:     &billingdb.Store{DB: dynamodb.NewFromConfig(env.AWS), Table: env.Config.BillingTable},
		Processor: proc,
	})
	return nil
}
