package invoices_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// TestRoles runs every customer and invoice route as every role, and as a customer on its own and on
// another customer's objects, through the local gateway, and checks the status against DESIGN §4.
func TestRoles(t *testing.T) {
	s := stacktest.New(t)
	bill := newClient(t, s, "billing", "")
	own := bill.Customer("Own Customer")
	other := bill.Customer("Other Customer")
	ownInvoice := bill.Draft(own.ID)
	ownPayment := seedPayment(t, s.Env, ownInvoice)

	principals := stacktest.Callers(own.ID, other.ID)
	openInvoice := func() billing.Invoice {
		inv := bill.Draft(own.ID)
		bill.Must(200, "POST", "/v1/invoices/"+inv.ID+"/finalize", "", &inv)
		return inv
	}
	draftBody := fmt.Sprintf(`{"customer_id":%q,"currency":"USD","lines":[{"description":"Seat","quantity":1,"unit_amount":500}]}`, own.ID)
	// requests builds each route's request on objects of the "own" customer, fresh when the route changes them.
	requests := map[string]func() (method, path, body string){
		"CreateCustomer": func() (string, string, string) {
			return "POST", "/v1/customers", `{"name":"New","email":"new@example.com"}`
		},
		"ListCustomers":  func() (string, string, string) { return "GET", "/v1/customers", "" },
		"GetCustomer":    func() (string, string, string) { return "GET", "/v1/customers/" + own.ID, "" },
		"UpdateCustomer": func() (string, string, string) { return "PATCH", "/v1/customers/" + own.ID, `{"tax_id":"X1"}` },
		"CreateInvoice":  func() (string, string, string) { return "POST", "/v1/invoices", draftBody },
		"ListInvoices":   func() (string, string, string) { return "GET", "/v1/invoices?customer_id=" + own.ID, "" },
		"GetInvoice":     func() (string, string, string) { return "GET", "/v1/invoices/" + ownInvoice.ID, "" },
		"UpdateInvoice": func() (string, string, string) {
			return "PATCH", "/v1/invoices/" + bill.Draft(own.ID).ID, `{"memo":"m"}`
		},
		"DeleteInvoice": func() (string, string, string) { return "DELETE", "/v1/invoices/" + bill.Draft(own.ID).ID, "" },
		"FinalizeInvoice": func() (string, string, string) {
			return "POST", "/v1/invoices/" + bill.Draft(own.ID).ID + "/finalize", ""
		},
		"VoidInvoice": func() (string, string, string) { return "POST", "/v1/invoices/" + openInvoice().ID + "/void", "" },
		"MarkInvoiceUncollectible": func() (string, string, string) {
			return "POST", "/v1/invoices/" + openInvoice().ID + "/mark-uncollectible", ""
		},
		"ListPayments": func() (string, string, string) { return "GET", "/v1/payments?customer_id=" + own.ID, "" },
		"GetPayment":   func() (string, string, string) { return "GET", "/v1/payments/" + ownPayment, "" },
	}
	// expect derives the status from the permission table.
	expect := func(p stacktest.Caller, r routes.Route) int {
		switch auth.ScopeOf(p.Role, r.Action) {
		case auth.None:
			return http.StatusForbidden
		case auth.Own:
			if p.Customer != own.ID && r.Operation != "ListCustomers" {
				return http.StatusNotFound
			}
		}
		if strings.HasPrefix(r.Operation, "Create") {
			return http.StatusCreated
		}
		return http.StatusOK
	}
	// A few rows written out, so that a change to the permission table cannot pass unnoticed.
	fixed := map[string]int{
		"payments/CreateInvoice": 403, "auditor/VoidInvoice": 403, "billing/FinalizeInvoice": 200,
		"admin/DeleteInvoice": 200, "customer-own/GetInvoice": 200, "customer-other/GetInvoice": 404,
		"customer-other/GetCustomer": 404, "customer-own/CreateCustomer": 403, "customer-own/UpdateInvoice": 403,
		"payments/GetCustomer": 200, "auditor/ListInvoices": 200, "customer-other/ListInvoices": 404,
	}

	covered := 0
	for _, r := range routes.All {
		if r.Function != routes.Invoices {
			continue
		}
		build, ok := requests[r.Operation]
		if !ok {
			t.Errorf("no request for route %s %s (%s)", r.Method, r.Path, r.Operation)
			continue
		}
		covered++
		for _, p := range principals {
			name := p.Name + "/" + r.Operation
			want := expect(p, r)
			if f, ok := fixed[name]; ok && f != want {
				t.Errorf("%s: the permission table gives %d, the contract says %d", name, want, f)
			}
			t.Run(name, func(t *testing.T) {
				c := newClient(t, s, string(p.Role), p.Customer)
				method, path, body := build()
				status, resp, _ := c.Send(method, path, body)
				if status != want {
					t.Errorf("%s %s: %d, want %d; %s", method, path, status, want, resp)
				}
			})
		}
	}
	if covered != 14 {
		t.Errorf("covered %d invoices routes, want 14", covered)
	}

	// A customer's lists hold only its own objects.
	otherClient := newClient(t, s, "customer", other.ID)
	var invs billingdb.List[billing.Invoice]
	otherClient.Must(200, "GET", "/v1/invoices", "", &invs)
	if len(invs.Data) != 0 {
		t.Errorf("another customer sees %d invoices", len(invs.Data))
	}
	ownClient := newClient(t, s, "customer", own.ID)
	ownClient.Must(200, "GET", "/v1/invoices?status=open", "", &invs)
	for _, inv := range invs.Data {
		if inv.CustomerID != own.ID {
			t.Errorf("customer sees invoice of %s", inv.CustomerID)
		}
	}
	var cs billingdb.List[billing.Customer]
	otherClient.Must(200, "GET", "/v1/customers", "", &cs)
	if len(cs.Data) != 1 || cs.Data[0].ID != other.ID {
		t.Errorf("customer's customer list: %+v", cs.Data)
	}
}

// seedPayment stores a succeeded payment of inv, as the payments function would, and returns its id.
func seedPayment(t *testing.T, env wiring.Env, inv billing.Invoice) string {
	t.Helper()
	db := dynamodb.NewFromConfig(env.AWS)
	st := &billingdb.Store{DB: db, Table: env.Config.BillingTable}
	now := time.Now()
	p := &billing.Payment{ID: billing.NewID(billing.PaymentPrefix), InvoiceID: inv.ID, CustomerID: inv.CustomerID,
		TokenID: "tok_5b8e2f0c1d3a4e6f9a7b8c0d1e2f3a4b", Status: billing.PaymentSucceeded, Amount: inv.Total,
		Currency: inv.Currency, CreatedAt: billing.FormatTime(now), UpdatedAt: billing.FormatTime(now)}
	items, err := st.ClaimItems(&inv, p, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: items[1:]}); err != nil {
		t.Fatal(err)
	}
	return p.ID
}
