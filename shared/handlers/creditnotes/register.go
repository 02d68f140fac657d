package creditnotes

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
)

// Register wires the credit-notes function from its environment: the billing table and the card
// processor named by PAYMENT_PROCESSOR. It has no vault: a refund names a charge, never a card.
func Register(env wiring.Env, svc *endpoint.Service) error {
	proc, err := processor.New(env.Config.Lookup(processor.EnvProcessor), env.Config.Lookup(processor.EnvStage))
	if err != nil {
		return err
	}
	Routes(svc, Deps{
		Store:     &billingdb.Store{DB: dynamodb.NewFromConfig(env.AWS), Table: env.Config.BillingTable},
		Processor: proc,
	})
	return nil
}
