package invoices_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestLifecycle walks a customer and its invoices through every state, as a billing team does.
func TestLifecycle(t *testing.T) {
	s := stacktest.New(t)
	bill := newClient(t, s, "billing", "")

	var cus billing.Customer
	bill.Must(201, "POST", "/v1/customers", `{"name":"Ada Lovelace","email":"ada@example.com",
		"address":{"line1":"12 St James's Sq","city":"London","postal_code":"SW1Y 4JH","country":"GB"},"tax_id":"GB123"}`, &cus)
	if !billing.ValidID(billing.CustomerPrefix, cus.ID) || cus.Object != "customer" || cus.Address.Country != "GB" {
		t.Fatalf("customer %+v", cus)
	}
	var got billing.Customer
	bill.Must(200, "PATCH", "/v1/customers/"+cus.ID, `{"email":"ada@analytical.example","tax_id":null}`, &got)
	if got.Email != "ada@analytical.example" || got.TaxID != nil || got.Name != "Ada Lovelace" || got.Address == nil {
		t.Errorf("patched customer %+v", got)
	}

	var inv billing.Invoice
	bill.Must(201, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"KWD","due_date":"2026-12-31","memo":"Q4",
		"lines":[{"description":"Engine","quantity":1,"unit_amount":1235,"tax_rate_bps":500},{"description":"Cards","quantity":3,"unit_amount":10}]}`, cus.ID), &inv)
	if inv.Status != billing.Draft || inv.Number != nil || inv.Subtotal != 1265 || inv.Tax != 62 || inv.Total != 1327 ||
		inv.AmountDue != 1327 || inv.AmountPaid != 0 || len(inv.Lines) != 2 || inv.Lines[0].Tax != 62 || inv.Lines[1].TaxRateBPS != 0 {
		t.Fatalf("draft %+v", inv)
	}
	// A draft is shown with number null, as the contract says.
	if _, body, _ := bill.Send("GET", "/v1/invoices/"+inv.ID, ""); !strings.Contains(body, `"number":null`) {
		t.Errorf("draft body %s", body)
	}

	bill.Must(200, "PATCH", "/v1/invoices/"+inv.ID, `{"memo":null,"lines":[{"description":"Engine","quantity":2,"unit_amount":1235,"tax_rate_bps":500}]}`, &inv)
	if inv.Memo != nil || inv.Total != 2470+124 || len(inv.Lines) != 1 || *inv.DueDate != "2026-12-31" {
		t.Fatalf("patched draft %+v", inv)
	}

	bill.Must(200, "POST", "/v1/invoices/"+inv.ID+"/finalize", "", &inv)
	if inv.Status != billing.Open || inv.Number == nil || *inv.Number != "INV-000001" || inv.FinalizedAt == nil {
		t.Fatalf("finalized %+v", inv)
	}
	// From here the invoice is immutable.
	for _, req := range []struct{ method, path, body string }{
		{"PATCH", "/v1/invoices/" + inv.ID, `{"memo":"late change"}`},
		{"DELETE", "/v1/invoices/" + inv.ID, ""},
		{"POST", "/v1/invoices/" + inv.ID + "/finalize", ""},
	} {
		status, body, _ := bill.Send(req.method, req.path, req.body)
		if p := decodeProblem(t, body); status != 409 || p.Code != "invoice_not_draft" {
			t.Errorf("%s %s on an open invoice: %d %s", req.method, req.path, status, body)
		}
	}

	bill.Must(200, "POST", "/v1/invoices/"+inv.ID+"/mark-uncollectible", "", &inv)
	if inv.Status != billing.Uncollectible || inv.MarkedUncollectibleAt == nil {
		t.Fatalf("uncollectible %+v", inv)
	}
	status, body, _ := bill.Send("POST", "/v1/invoices/"+inv.ID+"/mark-uncollectible", "")
	if p := decodeProblem(t, body); status != 409 || p.Code != "invalid_state" {
		t.Errorf("mark uncollectible twice: %d %s", status, body)
	}
	bill.Must(200, "POST", "/v1/invoices/"+inv.ID+"/void", "", &inv)
	if inv.Status != billing.Void || inv.VoidedAt == nil || *inv.Number != "INV-000001" {
		t.Fatalf("void %+v", inv)
	}
	status, body, _ = bill.Send("POST", "/v1/invoices/"+inv.ID+"/void", "")
	if p := decodeProblem(t, body); status != 409 || p.Code != "invalid_state" {
		t.Errorf("void twice: %d %s", status, body)
	}

	// A second invoice is numbered next; a deleted draft takes no number.
	gone := bill.Draft(cus.ID)
	var deleted struct {
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}
	bill.Must(200, "DELETE", "/v1/invoices/"+gone.ID, "", &deleted)
	if !deleted.Deleted || deleted.ID != gone.ID {
		t.Errorf("delete: %+v", deleted)
	}
	bill.Must(404, "GET", "/v1/invoices/"+gone.ID, "", nil)
	next := bill.Draft(cus.ID)
	bill.Must(200, "POST", "/v1/invoices/"+next.ID+"/finalize", "", &next)
	if *next.Number != "INV-000002" {
		t.Errorf("second number %s", *next.Number)
	}
	// Void straight from open.
	bill.Must(200, "POST", "/v1/invoices/"+next.ID+"/void", "", &next)

	var list billingdb.List[billing.Invoice]
	bill.Must(200, "GET", "/v1/invoices?customer_id="+cus.ID, "", &list)
	if len(list.Data) != 2 || list.HasMore {
		t.Errorf("customer's invoices: %+v", list)
	}
	bill.Must(200, "GET", "/v1/invoices?status=void", "", &list)
	if len(list.Data) != 2 {
		t.Errorf("void invoices: %d", len(list.Data))
	}
	bill.Must(200, "GET", "/v1/invoices?status=draft", "", &list)
	if len(list.Data) != 0 {
		t.Errorf("draft invoices: %d", len(list.Data))
	}
}

// TestPagination pages through customers and invoices with opaque cursors.
func TestPagination(t *testing.T) {
	s := stacktest.New(t)
	bill := newClient(t, s, "billing", "")
	cus := bill.Customer("Pager")
	want := map[string]bool{}
	for i := 0; i < 5; i++ {
		inv := bill.Draft(cus.ID)
		want[inv.ID] = true
	}
	bill.Customer("Second")
	for _, path := range []string{"/v1/invoices?limit=2", "/v1/invoices?status=draft&limit=2", "/v1/invoices?customer_id=" + cus.ID + "&limit=2", "/v1/invoices?customer_id=" + cus.ID + "&status=draft&limit=2"} {
		seen := map[string]bool{}
		url, pages := path, 0
		for {
			var page billingdb.List[billing.Invoice]
			bill.Must(200, "GET", url, "", &page)
			pages++
			for _, inv := range page.Data {
				if seen[inv.ID] {
					t.Fatalf("%s: %s returned twice", path, inv.ID)
				}
				seen[inv.ID] = true
			}
			if !page.HasMore {
				break
			}
			if len(page.Data) != 2 || page.NextCursor == "" {
				t.Fatalf("%s: page %+v", path, page)
			}
			url = path + "&cursor=" + page.NextCursor
		}
		if len(seen) != 5 || pages != 3 {
			t.Errorf("%s: %d invoices in %d pages, want 5 in 3", path, len(seen), pages)
		}
	}
	var customers billingdb.List[billing.Customer]
	bill.Must(200, "GET", "/v1/customers?limit=1", "", &customers)
	if len(customers.Data) != 1 || !customers.HasMore || customers.Data[0].Name != "Second" {
		t.Fatalf("customers page 1: %+v", customers)
	}
	bill.Must(200, "GET", "/v1/customers?limit=1&cursor="+customers.NextCursor, "", &customers)
	if len(customers.Data) != 1 || customers.HasMore || customers.Data[0].Name != "Pager" {
		t.Fatalf("customers page 2: %+v", customers)
	}

	for _, bad := range []string{"?limit=0", "?limit=101", "?limit=ten", "?cursor=not-a-cursor", "?cursor=" + billingdb.EncodeCursor("2026-01-01T00:00:00Z#cus_"+strings.Repeat("a", 26)), "?status=paidish"} {
		status, body, _ := bill.Send("GET", "/v1/invoices"+bad, "")
		if p := decodeProblem(t, body); status != 400 || p.Code != "validation_failed" || len(p.Errors) != 1 {
			t.Errorf("GET /v1/invoices%s: %d %s", bad, status, body)
		}
	}
}
