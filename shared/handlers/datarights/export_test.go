package datarights_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/handlers/datarights"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// caller talks to one local stack as one principal.
type caller = stacktest.Client

// as is a client of the stack with a token of role (for a customer user, of customerID).
var as = stacktest.NewClient

type obj struct {
	ID string `json:"id"`
}

// history is what customerWithHistory made.
type history struct {
	open, draft, token string
}

var last history

// customerWithHistory makes a customer with a paid invoice (its token and payment), an open invoice
// with a credit note, and a draft; it returns the customer's id (and leaves the rest in last).
func customerWithHistory(t *testing.T, s *devstack.Stack, name, email string) (id string, card string) {
	t.Helper()
	bill, pay := as(t, s, "billing", ""), as(t, s, "payments", "")
	var cus obj
	bill.Must(201, "POST", "/v1/customers", fmt.Sprintf(`{"name":%q,"email":%q}`, name, email), &cus)
	invoice := func() string {
		var inv obj
		bill.Must(201, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Plan","quantity":1,"unit_amount":5000}]}`, cus.ID), &inv)
		return inv.ID
	}
	paid, open := invoice(), invoice()
	draft := invoice()
	bill.Must(200, "POST", "/v1/invoices/"+paid+"/finalize", "", nil)
	bill.Must(200, "POST", "/v1/invoices/"+open+"/finalize", "", nil)
	bill.Must(201, "POST", "/v1/invoices/"+open+"/credit-notes", `{"amount":1000,"reason":"order_change"}`, nil)
	var tok obj
	card = "4242424242424242"
	pay.Must(201, "POST", "/v1/tokens", fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2040,"name":%q}}`, cus.ID, card, name), &tok)
	pay.Must(200, "POST", "/v1/invoices/"+paid+"/pay", fmt.Sprintf(`{"token":%q}`, tok.ID), nil)
	last = history{open: open, draft: draft, token: tok.ID}
	return cus.ID, card
}

// TestExportHoldsEverythingAboutTheCustomer: the export has the customer with its personal data,
// every invoice, credit note and payment, and the token metadata, and no card number.
func TestExportHoldsEverythingAboutTheCustomer(t *testing.T) {
	s := stacktest.New(t)
	id, card := customerWithHistory(t, s, "Grace Export", "grace.export@example.com")
	other, _ := customerWithHistory(t, s, "Someone Else", "someone@example.com")
	var exp datarights.Export
	status, body := as(t, s, "admin", "").Do("GET", "/v1/customers/"+id+"/export", "")
	if status != 200 {
		t.Fatalf("export: %d %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), &exp); err != nil {
		t.Fatal(err)
	}
	if exp.Object != "customer_export" || exp.GeneratedAt == "" || exp.Customer.ID != id || exp.Customer.Name != "Grace Export" || exp.Customer.Email != "grace.export@example.com" {
		t.Errorf("export head: %+v %+v", exp, exp.Customer)
	}
	if len(exp.Invoices) != 3 || len(exp.CreditNotes) != 1 || len(exp.Payments) != 1 || len(exp.Tokens) != 1 {
		t.Errorf("export has %d invoices, %d credit notes, %d payments, %d tokens; want 3, 1, 1, 1",
			len(exp.Invoices), len(exp.CreditNotes), len(exp.Payments), len(exp.Tokens))
	}
	for _, inv := range exp.Invoices {
		if inv.CustomerID != id {
			t.Errorf("invoice %s of customer %s in the export", inv.ID, inv.CustomerID)
		}
	}
	if strings.Contains(body, card) || strings.Contains(body, other) {
		t.Errorf("export holds a card number or another customer: %s", body)
	}
	if len(exp.Tokens) == 1 && exp.Tokens[0].Card.Last4 != "4242" {
		t.Errorf("token metadata: %+v", exp.Tokens[0])
	}
}

// TestExportRoles is the permission table for exports through the gateway: admin and the customer
// itself may export; billing, payments and auditor are forbidden; another customer sees nothing.
func TestExportRoles(t *testing.T) {
	s := stacktest.New(t)
	bill := as(t, s, "billing", "")
	var cus, other obj
	bill.Must(201, "POST", "/v1/customers", `{"name":"Role Person","email":"role@example.com"}`, &cus)
	bill.Must(201, "POST", "/v1/customers", `{"name":"Other Person","email":"other@example.com"}`, &other)
	path := "/v1/customers/" + cus.ID + "/export"
	for _, tt := range []struct {
		role, customer string
		want           int
	}{
		{"admin", "", 200}, {"billing", "", 403}, {"payments", "", 403}, {"auditor", "", 403},
		{"customer", cus.ID, 200}, {"customer", other.ID, 404},
	} {
		if status, body := as(t, s, tt.role, tt.customer).Do("GET", path, ""); status != tt.want {
			t.Errorf("%s %s: %d, want %d: %s", tt.role, tt.customer, status, tt.want, body)
		}
	}
	if status, _ := as(t, s, "admin", "").Do("GET", "/v1/customers/cus_aaaaaaaaaaaaaaaaaaaaaaaaaa/export", ""); status != 404 {
		t.Errorf("export of an unknown customer: %d, want 404", status)
	}
}
