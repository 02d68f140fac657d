// Package users wires the users function: the Cognito user pool named by USER_POOL_ID and the billing
// table (customers, session epochs).
package users

import (
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/userpool"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/users"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	return wiring.HTTP(routes.Users, Register)(env)
}

// Register adds the users routes.
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	if err := c.Require(config.EnvUserPoolID, config.EnvBillingTable); err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	users.Routes(svc, &users.Handlers{
		Pool:      &userpool.Directory{API: cognitoidentityprovider.NewFromConfig(env.AWS), PoolID: c.Lookup(config.EnvUserPoolID)},
		Customers: &billingdb.Store{DB: db, Table: c.BillingTable},
		Epochs:    db, Table: c.BillingTable,
	})
	return nil
}
