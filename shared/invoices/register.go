package invoices

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/billingdb"
	"github.com/vaultbill/vaultbill/shared/endpoint"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Register wires the invoices function from its environment: the billing table only, no vault access.
func Register(env wiring.Env, svc *endpoint.Service) error {
	Routes(svc, &billingdb.Store{DB: dynamodb.NewFromConfig(env.AWS), Table: env.Config.BillingTable})
	return nil
}
