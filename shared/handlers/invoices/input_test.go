package invoices_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestBadInput sends each kind of bad request of the contract: each is a clear problem+json naming the
// field, and nothing is stored.
func TestBadInput(t *testing.T) {
	s := stacktest.New(t)
	bill := newClient(t, s, "billing", "")
	cus := bill.Customer("Valid Customer")
	draft := bill.Draft(cus.ID)
	before := len(billingItems(t, s))

	line := func(extra string) string {
		return fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[%s]}`, cus.ID, extra)
	}
	manyLines := strings.TrimSuffix(strings.Repeat(`{"description":"x","quantity":1,"unit_amount":1},`, 101), ",")
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"invalid JSON", "POST", "/v1/customers", `{"name":"A",`, 400, "validation_failed", ""},
		{"not an object", "POST", "/v1/customers", `["a"]`, 400, "validation_failed", ""},
		{"empty body", "POST", "/v1/invoices", ``, 400, "validation_failed", ""},
		{"unknown field", "POST", "/v1/customers", `{"name":"A","email":"a@b.co","nickname":"x"}`, 400, "validation_failed", "nickname"},
		{"unknown line field", "POST", "/v1/invoices", line(`{"description":"x","quantity":1,"unit_amount":1,"discount":5}`), 400, "validation_failed", "discount"},
		{"body over 64 KiB", "POST", "/v1/customers", `{"name":"` + strings.Repeat("a", 65<<10) + `"}`, 413, "payload_too_large", ""},
		{"missing name", "POST", "/v1/customers", `{"email":"a@b.co"}`, 422, "validation_failed", "name"},
		{"empty email", "POST", "/v1/customers", `{"name":"A","email":""}`, 422, "validation_failed", "email"},
		{"bad email", "POST", "/v1/customers", `{"name":"A","email":"not-an-email"}`, 422, "validation_failed", "email"},
		{"bad country", "POST", "/v1/customers", `{"name":"A","email":"a@b.co","address":{"line1":"x","city":"y","postal_code":"1","country":"ZZ"}}`, 422, "validation_failed", "address.country"},
		{"missing customer_id", "POST", "/v1/invoices", `{"currency":"EUR","lines":[{"description":"x","quantity":1,"unit_amount":1}]}`, 422, "validation_failed", "customer_id"},
		{"missing lines", "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR"}`, cus.ID), 422, "validation_failed", "lines"},
		{"empty description", "POST", "/v1/invoices", line(`{"description":"","quantity":1,"unit_amount":1}`), 422, "validation_failed", "lines[0].description"},
		{"quantity 0", "POST", "/v1/invoices", line(`{"description":"x","quantity":0,"unit_amount":1}`), 422, "validation_failed", "lines[0].quantity"},
		{"quantity 1.5", "POST", "/v1/invoices", line(`{"description":"x","quantity":1.5,"unit_amount":1}`), 400, "validation_failed", "lines.quantity"},
		{"quantity as a string", "POST", "/v1/invoices", line(`{"description":"x","quantity":"2","unit_amount":1}`), 400, "validation_failed", "lines.quantity"},
		{"negative unit amount", "POST", "/v1/invoices", line(`{"description":"x","quantity":1,"unit_amount":-100}`), 422, "validation_failed", "lines[0].unit_amount"},
		{"unit amount beyond int64", "POST", "/v1/invoices", line(`{"description":"x","quantity":1,"unit_amount":99999999999999999999}`), 400, "validation_failed", "lines.unit_amount"},
		{"101 lines", "POST", "/v1/invoices", line(manyLines), 422, "validation_failed", "lines"},
		{"description of 501 characters", "POST", "/v1/invoices", line(`{"description":"` + strings.Repeat("ü", 501) + `","quantity":1,"unit_amount":1}`), 422, "validation_failed", "lines[0].description"},
		{"unknown currency", "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUX","lines":[{"description":"x","quantity":1,"unit_amount":1}]}`, cus.ID), 422, "validation_failed", "currency"},
		{"unknown customer", "POST", "/v1/invoices", `{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"EUR","lines":[{"description":"x","quantity":1,"unit_amount":1}]}`, 422, "validation_failed", "customer_id"},
		{"tax rate above 10000", "POST", "/v1/invoices", line(`{"description":"x","quantity":1,"unit_amount":1,"tax_rate_bps":10001}`), 422, "validation_failed", "lines[0].tax_rate_bps"},
		{"tax rate below 0", "POST", "/v1/invoices", line(`{"description":"x","quantity":1,"unit_amount":1,"tax_rate_bps":-1}`), 422, "validation_failed", "lines[0].tax_rate_bps"},
		{"product overflows", "POST", "/v1/invoices", line(fmt.Sprintf(`{"description":"x","quantity":2,"unit_amount":%d}`, int64(math.MaxInt64/2+1))), 422, "validation_failed", "lines[0].unit_amount"},
		{"sum overflows", "POST", "/v1/invoices", line(fmt.Sprintf(`{"description":"x","quantity":1,"unit_amount":%d},{"description":"y","quantity":1,"unit_amount":%d}`, int64(math.MaxInt64), int64(1))), 422, "validation_failed", "lines"},
		{"tax overflows the total", "POST", "/v1/invoices", line(fmt.Sprintf(`{"description":"x","quantity":1,"unit_amount":%d,"tax_rate_bps":100}`, int64(math.MaxInt64-10))), 422, "validation_failed", "lines"},
		{"patch with unknown field", "PATCH", "/v1/invoices/" + draft.ID, `{"memo":"x","status":"paid"}`, 400, "validation_failed", "status"},
		{"patch setting currency to null", "PATCH", "/v1/invoices/" + draft.ID, `{"currency":null}`, 422, "validation_failed", "currency"},
		{"patch with a bad line", "PATCH", "/v1/invoices/" + draft.ID, `{"lines":[{"description":"x","quantity":-1,"unit_amount":1}]}`, 422, "validation_failed", "lines[0].quantity"},
		{"patch to an unknown customer", "PATCH", "/v1/invoices/" + draft.ID, `{"customer_id":"cus_bbbbbbbbbbbbbbbbbbbbbbbbbb"}`, 422, "validation_failed", "customer_id"},
		{"patch of a customer's unknown address field", "PATCH", "/v1/customers/" + cus.ID, `{"address":{"line1":"x","city":"y","postal_code":"1","country":"DE","state":"BE"}}`, 400, "validation_failed", ""},
		{"unknown invoice", "GET", "/v1/invoices/in_aaaaaaaaaaaaaaaaaaaaaaaaaa", "", 404, "not_found", ""},
		{"malformed invoice id", "POST", "/v1/invoices/nope/finalize", "", 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, resp := bill.Send(tt.method, tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d; %s", status, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			p := decodeProblem(t, body)
			if p.Code != tt.code || p.Status != tt.status || p.Detail == "" {
				t.Errorf("problem %+v, want code %s", p, tt.code)
			}
			if tt.field != "" {
				var fields []string
				for _, f := range p.Errors {
					fields = append(fields, f.Field)
				}
				if diff := cmp.Diff([]string{tt.field}, fields); diff != "" {
					t.Errorf("fields (-want +got):\n%s\n%s", diff, body)
				}
			}
		})
	}
	if after := len(billingItems(t, s)); after != before {
		t.Errorf("bad requests stored %d items", after-before)
	}
	var got struct {
		Version int64   `json:"version"`
		Memo    *string `json:"memo"`
	}
	bill.Must(200, "GET", "/v1/invoices/"+draft.ID, "", &got)
	if got.Memo != nil {
		t.Errorf("a refused patch changed the draft: memo %q", *got.Memo)
	}
}
