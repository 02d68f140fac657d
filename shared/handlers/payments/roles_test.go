package payments_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestRoles pays a fresh invoice of the "own" customer as every role, and as a customer on its own and
// on another customer's invoice, through the local gateway (authorizer included), and checks the
// status against DESIGN §4: only payments, and a customer for its own invoices, may pay; another
// customer's invoice is not found. A refused request charges nothing.
func TestRoles(t *testing.T) {
	ps := newPayStack(t)
	own := ps.billing.Customer("Own").ID
	other := ps.billing.Customer("Other").ID
	tok := ps.pay.Tokenize(own, processor.TestVisa)

	principals := stacktest.Callers(own, other)
	// The contract, written out, so that a change to the permission table cannot pass unnoticed.
	want := map[string]int{
		"admin": 403, "billing": 403, "payments": 200, "auditor": 403, "customer-own": 200, "customer-other": 404,
	}
	route, ok := routes.Lookup(http.MethodPost, "/v1/invoices/{id}/pay")
	if !ok || route.Operation != "PayInvoice" || route.Function != routes.Payments {
		t.Fatalf("pay route: %+v", route)
	}
	got := map[string]int{}
	for _, p := range principals {
		// What the permission table says must agree with the contract.
		fromTable := 200
		switch auth.ScopeOf(p.Role, route.Action) {
		case auth.None:
			fromTable = 403
		case auth.Own:
			if p.Customer != own {
				fromTable = 404
			}
		}
		if fromTable != want[p.Name] {
			t.Errorf("%s: the permission table gives %d, the contract says %d", p.Name, fromTable, want[p.Name])
		}
		inv := ps.billing.Open(own)
		before := len(ps.sandbox.Accepted())
		c := newClient(t, ps.s, string(p.Role), p.Customer)
		status, body := c.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok))
		got[p.Name] = status
		charged := len(ps.sandbox.Accepted()) - before
		if status == 200 && charged != 1 || status != 200 && charged != 0 {
			t.Errorf("%s: %d %s with %d charges", p.Name, status, body, charged)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status by principal (-want +got):\n%s", diff)
	}

	// Without MFA nobody pays.
	noMFA := stacktest.NoMFAClient(t, ps.s, "payments")
	inv := ps.billing.Open(own)
	if status, body := noMFA.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok)); status != 403 {
		t.Errorf("pay without MFA: %d %s", status, body)
	}
}
