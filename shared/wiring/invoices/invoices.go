// Package invoices wires the invoices function: the billing table and the data key for the
// customer-data purpose (customers' personal data), no vault access.
package invoices

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/invoices"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	return wiring.HTTP(routes.Invoices, Register)(env)
}

// Register adds the customer and invoice routes.
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	if err := c.Require(config.EnvDataKey); err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	keys := customerkeys.New(kms.NewFromConfig(env.AWS), db, c.BillingTable, c.DataKeyID)
	// Kept responses of customer writes hold personal data: sealed under the customer's key too.
	svc.Outcomes = keys
	invoices.Routes(svc, &billingdb.Store{DB: db, Table: c.BillingTable, Keys: keys})
	return nil
}
