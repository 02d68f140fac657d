package payments_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/wiring"
	cardwiring "github.com/vaultbill/vaultbill/shared/wiring/cards"
)

// namingProcessor is the sandbox, noting the cardholder name of every charge it is sent.
type namingProcessor struct {
	*processor.Sandbox
	mu    sync.Mutex
	names []string
}

func (p *namingProcessor) Charge(ctx context.Context, c processor.Charge) (processor.Result, error) {
	p.mu.Lock()
	p.names = append(p.names, c.Card.Name)
	p.mu.Unlock()
	return p.Sandbox.Charge(ctx, c)
}

// TestChargeCarriesTheCardholderName: the cardholder name, sealed under the customer's own key, is
// opened by the payments function as it was wired (vault.FromEnv) and sent with the charge.
func TestChargeCarriesTheCardholderName(t *testing.T) {
	ps := newPayStack(t)
	proc := &namingProcessor{Sandbox: ps.sandbox}
	svc, err := wiring.Service(ps.env, routes.Payments)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(ps.env.AWS)
	limiter, err := cardwiring.Limiter(ps.env, db)
	if err != nil {
		t.Fatal(err)
	}
	payments.Routes(svc, payments.Deps{
		Store: &billingdb.Store{DB: db, Table: ps.env.Config.BillingTable}, Vault: cardwiring.Vault(ps.env, db),
		Processor: proc, Attempts: limiter,
	})
	ps.s.Gateway.Functions[routes.Payments] = svc.Serve

	cus := ps.billing.Customer("Named Customer").ID
	var tok struct{ ID string }
	ps.pay.Must(201, "POST", "/v1/tokens", fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2034,"name":"Hermione Holder"}}`, cus, processor.TestVisa), &tok)
	ps.pay.Must(200, "POST", "/v1/invoices/"+ps.billing.Open(cus).ID+"/pay", payBody(tok.ID), nil)
	unnamed := ps.pay.Tokenize(cus, "5555555555554444")
	ps.pay.Must(200, "POST", "/v1/invoices/"+ps.billing.Open(cus).ID+"/pay", payBody(unnamed), nil)
	if want := []string{"Hermione Holder", ""}; !slices.Equal(proc.names, want) {
		t.Errorf("cardholder names sent with the charges: %q, want %q", proc.names, want)
	}
}
