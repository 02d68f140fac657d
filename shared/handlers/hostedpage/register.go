package hostedpage

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/hostedlink"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
)

// Environment of the hosted-page function.
const (
	// EnvBusinessName is the name shown on every invoice page.
	EnvBusinessName = "BUSINESS_NAME"
	// EnvPublicBaseURL is the public base URL of the API (a custom domain); unset, links are made
	// under the host and stage the request came to.
	EnvPublicBaseURL = "PUBLIC_BASE_URL"
)

// Register wires the hosted-page function: it reads the billing table (invoices, links) and writes
// link items; it is given no vault and no key that could read a card.
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	db := dynamodb.NewFromConfig(env.AWS)
	name := c.Lookup(EnvBusinessName)
	if name == "" {
		name = "Vaultbill"
	}
	p := &Page{
		Business: name, BaseURL: c.Lookup(EnvPublicBaseURL),
		Invoices: &billingdb.Store{DB: db, Table: c.BillingTable},
		Links:    &hostedlink.Store{DB: db, Table: c.BillingTable},
		Alert:    &Alerter{Metrics: env.Metrics},
	}
	p.Routes(svc)
	return nil
}
