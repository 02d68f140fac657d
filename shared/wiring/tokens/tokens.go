// Package tokens wires the tokens function: the vault, the card-attempt limiter and the customers'
// key items (to unwrap the keys that seal cardholder names; tokens creates none).
package tokens

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/cards"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	return wiring.HTTP(routes.Tokens, Register)(env)
}

// Register adds the token routes.
func Register(env wiring.Env, svc *endpoint.Service) error {
	if err := cards.Require(env); err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	limiter, err := cards.Limiter(env, db)
	if err != nil {
		return err
	}
	tokens.Routes(svc, tokens.Deps{Vault: cards.Vault(env, db), Attempts: limiter, Customers: db, BillingTable: env.Config.BillingTable})
	cards.HostedLinks(env, svc, db)
	return nil
}
