// Package hostedpage wires the hosted-page function and the page-check function that watches it. The
// page reads the billing table (invoices, links) and writes link items; it is given no vault and no
// key that could read a card.
package hostedpage

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/hostedlink"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/hostedpage"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Environment of the hosted-page function.
const (
	// EnvBusinessName is the name shown on every invoice page.
	EnvBusinessName = "BUSINESS_NAME"
	// EnvPublicBaseURL is the public base URL of the API (a custom domain); unset, links are made
	// under the host and stage the request came to.
	EnvPublicBaseURL = "PUBLIC_BASE_URL"
)

// Build is the hosted-page function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	return wiring.HTTP(routes.HostedPage, Register)(env)
}

// Register adds the page's routes.
func Register(env wiring.Env, svc *endpoint.Service) error {
	c := env.Config
	db := dynamodb.NewFromConfig(env.AWS)
	name := c.Lookup(EnvBusinessName)
	if name == "" {
		name = "Vaultbill"
	}
	p := &hostedpage.Page{
		Business: name, BaseURL: c.Lookup(EnvPublicBaseURL),
		Invoices: &billingdb.Store{DB: db, Table: c.BillingTable},
		Links:    &hostedlink.Store{DB: db, Table: c.BillingTable},
		Alert:    &hostedpage.Alerter{Metrics: env.Metrics},
	}
	p.Routes(svc)
	return nil
}

// BuildCheck is the page-check function's cold start: it fetches the page at PAGE_CHECK_URL and
// compares it with the released inventory.
func BuildCheck(env wiring.Env) (wiring.Handler, error) {
	url := env.Config.Lookup(hostedpage.EnvCheckURL)
	if url == "" {
		return wiring.Handler{}, fmt.Errorf("%s is not set", hostedpage.EnvCheckURL)
	}
	c := &hostedpage.Checker{
		Client: &http.Client{Timeout: 20 * time.Second}, URL: url, Log: env.Log,
		Alert: &hostedpage.Alerter{Metrics: env.Metrics},
	}
	return wiring.Handler{Func: func(ctx context.Context) error { _, err := c.Run(ctx); return err }}, nil
}
