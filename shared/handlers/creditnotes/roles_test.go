package creditnotes_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestRoles sends every credit note and payment route as each of the six callers (the four staff
// roles, a customer on its own objects and a customer on another's) through the local gateway,
// authorizer included, and checks the status against DESIGN §4: credit notes on open invoices by
// admin and billing, refunds (credit notes on paid invoices) by admin and payments, reads by every
// role and a customer for its own (another's is not found). A refused request issues and refunds nothing.
func TestRoles(t *testing.T) {
	cs := newCNStack(t)
	own := cs.billing.Customer("Own").ID
	other := cs.billing.Customer("Other").ID
	_, pay := cs.paid(own, processor.TestVisa)
	var note billing.CreditNote
	cs.billing.Must(201, "POST", "/v1/invoices/"+cs.billing.Open(own).ID+"/credit-notes", creditBody(1, "duplicate"), &note)

	principals := stacktest.Callers(own, other)
	staff := func(admin, billing, payments, auditor, customerOwn, customerOther int) map[string]int {
		return map[string]int{"admin": admin, "billing": billing, "payments": payments, "auditor": auditor,
			"customer-own": customerOwn, "customer-other": customerOther}
	}
	// The contract, written out, so that a change to the permission table cannot pass unnoticed.
	tests := []struct {
		name, method, route string
		// path makes a fresh target for each caller (a new open or paid invoice for the POSTs).
		path func() string
		body string
		want map[string]int
	}{
		{"credit note on an open invoice", "POST", "/v1/invoices/{id}/credit-notes",
			func() string { return "/v1/invoices/" + cs.billing.Open(own).ID + "/credit-notes" }, creditBody(100, "order_change"),
			staff(201, 201, 403, 403, 403, 403)},
		{"refund (credit note on a paid invoice)", "POST", "/v1/invoices/{id}/credit-notes",
			func() string {
				inv, _ := cs.paid(own, processor.TestVisa)
				return "/v1/invoices/" + inv.ID + "/credit-notes"
			},
			creditBody(100, "order_change"), staff(201, 403, 201, 403, 403, 403)},
		{"read a credit note", "GET", "/v1/credit-notes/{id}", func() string { return "/v1/credit-notes/" + note.ID }, "",
			staff(200, 200, 200, 200, 200, 404)},
		{"list credit notes", "GET", "/v1/credit-notes", func() string { return "/v1/credit-notes?customer_id=" + own }, "",
			staff(200, 200, 200, 200, 200, 404)},
		{"read a payment", "GET", "/v1/payments/{id}", func() string { return "/v1/payments/" + pay.ID }, "",
			staff(200, 200, 200, 200, 200, 404)},
		{"list payments", "GET", "/v1/payments", func() string { return "/v1/payments?customer_id=" + own }, "",
			staff(200, 200, 200, 200, 200, 404)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			route, ok := routes.Lookup(tt.method, tt.route)
			if !ok {
				t.Fatalf("no route %s %s", tt.method, tt.route)
			}
			got := map[string]int{}
			for _, p := range principals {
				// A customer is refused by the route itself, before anything is read.
				if auth.ScopeOf(p.Role, route.Action) == auth.None && tt.want[p.Name] != 403 {
					t.Errorf("%s: the permission table refuses the route, the contract says %d", p.Name, tt.want[p.Name])
				}
				path := tt.path()
				refunds, c := len(cs.sandbox.Refunds()), newClient(t, cs.s, string(p.Role), p.Customer)
				status, body := c.Do(tt.method, path, tt.body)
				got[p.Name] = status
				if status >= 400 && len(cs.sandbox.Refunds()) != refunds {
					t.Errorf("%s: %d %s, yet refunded", p.Name, status, body)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("status by caller (-want +got):\n%s", diff)
			}
		})
	}

	// Without MFA nobody credits or refunds.
	noMFA := stacktest.NoMFAClient(t, cs.s, "admin")
	if status, body := noMFA.Do(http.MethodPost, "/v1/invoices/"+cs.billing.Open(own).ID+"/credit-notes", creditBody(1, "duplicate")); status != 403 {
		t.Errorf("credit note without MFA: %d %s", status, body)
	}
}
