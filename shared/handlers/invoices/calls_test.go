package invoices_test

import (
	"fmt"
	"testing"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestDynamoDBCallsPerRoute pins the number of DynamoDB calls each route makes (the figures in the
// billingdb package doc), as upper bounds: a change that adds a round trip fails here, one that saves one passes.
func TestDynamoDBCallsPerRoute(t *testing.T) {
	s := stacktest.New(t)
	env := s.Env
	var counter *stacktest.Calls
	env.AWS, counter = stacktest.CountCalls(s.Env.AWS)
	rewire(t, s, env)
	bill := newClient(t, s, "billing", "")
	cus := bill.Customer("Counted")
	inv := bill.Draft(cus.ID)
	open := bill.Draft(cus.ID)
	bill.Must(200, "POST", "/v1/invoices/"+open.ID+"/finalize", "", nil)
	gone := bill.Draft(cus.ID)
	counter.TakeService("DynamoDB")

	type call map[string]int
	write := call{"GetItem": 1, "TransactWriteItems": 1}
	read := call{"GetItem": 1, "PutItem": 1}
	tests := []struct {
		name, method, path, body string
		headers                  []string
		want                     call
	}{
		{"CreateCustomer", "POST", "/v1/customers", `{"name":"N","email":"n@example.com"}`, nil, call{"TransactWriteItems": 1}},
		{"CreateCustomer with Idempotency-Key", "POST", "/v1/customers", `{"name":"N","email":"n@example.com"}`, []string{"Idempotency-Key", "k1"}, call{"PutItem": 1, "TransactWriteItems": 1}},
		{"CreateCustomer replayed", "POST", "/v1/customers", `{"name":"N","email":"n@example.com"}`, []string{"Idempotency-Key", "k1"}, call{"PutItem": 2}},
		{"GetCustomer", "GET", "/v1/customers/" + cus.ID, "", nil, read},
		{"ListCustomers", "GET", "/v1/customers", "", nil, call{"Query": 1, "PutItem": 1}},
		{"UpdateCustomer", "PATCH", "/v1/customers/" + cus.ID, `{"tax_id":"T"}`, nil, write},
		{"CreateInvoice", "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"x","quantity":1,"unit_amount":1}]}`, cus.ID), nil, call{"TransactWriteItems": 1}},
		{"CreateInvoice for an unknown customer", "POST", "/v1/invoices", `{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"EUR","lines":[{"description":"x","quantity":1,"unit_amount":1}]}`, nil, call{"TransactWriteItems": 1, "GetItem": 1, "PutItem": 1}},
		{"GetInvoice", "GET", "/v1/invoices/" + inv.ID, "", nil, read},
		{"GetInvoice not found", "GET", "/v1/invoices/in_aaaaaaaaaaaaaaaaaaaaaaaaaa", "", nil, read},
		{"ListInvoices by customer", "GET", "/v1/invoices?customer_id=" + cus.ID, "", nil, call{"Query": 1, "PutItem": 1}},
		{"ListInvoices by status", "GET", "/v1/invoices?status=draft", "", nil, call{"Query": 1, "PutItem": 1}},
		{"ListInvoices unfiltered", "GET", "/v1/invoices", "", nil, call{"Query": 5, "PutItem": 1}},
		{"UpdateInvoice", "PATCH", "/v1/invoices/" + inv.ID, `{"memo":"m"}`, nil, write},
		{"FinalizeInvoice", "POST", "/v1/invoices/" + inv.ID + "/finalize", "", nil, call{"GetItem": 2, "TransactWriteItems": 1}},
		{"MarkInvoiceUncollectible", "POST", "/v1/invoices/" + inv.ID + "/mark-uncollectible", "", nil, write},
		{"VoidInvoice", "POST", "/v1/invoices/" + open.ID + "/void", "", nil, write},
		{"DeleteInvoice", "DELETE", "/v1/invoices/" + gone.ID, "", nil, write},
		{"refused edit of an issued invoice", "PATCH", "/v1/invoices/" + open.ID, `{"memo":"m"}`, nil, read},
	}
	for _, tt := range tests {
		status, body, _ := bill.Send(tt.method, tt.path, tt.body, tt.headers...)
		if status >= 500 {
			t.Fatalf("%s: %d %s", tt.name, status, body)
		}
		got := counter.TakeService("DynamoDB")
		if over := stacktest.Exceeding(tt.want, got); over != nil {
			t.Errorf("%s (%d): DynamoDB calls beyond the table: %v", tt.name, status, over)
		}
		t.Logf("%-40s %s", tt.name, stacktest.FormatCalls(got))
	}
}
