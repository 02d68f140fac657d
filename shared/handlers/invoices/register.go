package invoices

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
)

// Register wires the invoices function from its environment: the billing table and the data key for
// the customer-data purpose (customers' personal data), no vault access.
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	if err := c.Require(config.EnvDataKey); err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	keys := customerkeys.New(kms.NewFromConfig(env.AWS), db, c.BillingTable, c.DataKeyID)
	// Kept responses of customer writes hold personal data: sealed under the customer's key too.
	svc.Outcomes = keys
	Routes(svc, &billingdb.Store{DB: db, Table: c.BillingTable, Keys: keys})
	return nil
}
