package invoices_test

import (
	"fmt"
	"testing"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestIdempotentPOSTs retries creates and a finalize with the same Idempotency-Key: the first response
// comes back, marked as a replay, and the change happens once.
func TestIdempotentPOSTs(t *testing.T) {
	s := stacktest.New(t)
	bill := newClient(t, s, "billing", "")

	body := `{"name":"Once Only","email":"once@example.com"}`
	status1, first, _ := bill.Send("POST", "/v1/customers", body, "Idempotency-Key", "cus-key-1")
	status2, second, resp := bill.Send("POST", "/v1/customers", body, "Idempotency-Key", "cus-key-1")
	if status1 != 201 || status2 != 201 || first != second || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s / %d %s (replayed %q)", status1, first, status2, second, resp.Header.Get("Idempotent-Replayed"))
	}
	var cus billing.Customer
	_ = decodeInto(t, first, &cus)
	if n := countPrefix(t, s, "CUS#"); n != 1 {
		t.Errorf("%d customers stored, want 1", n)
	}

	status, body3, _ := bill.Send("POST", "/v1/customers", `{"name":"Someone Else","email":"else@example.com"}`, "Idempotency-Key", "cus-key-1")
	if p := decodeProblem(t, body3); status != 422 || p.Code != "idempotency_key_reused" {
		t.Errorf("same key, other body: %d %s", status, body3)
	}

	// Another principal's key space is its own.
	admin := newClient(t, s, "admin", "")
	if status, _, resp := admin.Send("POST", "/v1/customers", body, "Idempotency-Key", "cus-key-1"); status != 201 || resp.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("admin with billing's key: %d replayed=%q", status, resp.Header.Get("Idempotent-Replayed"))
	}

	invBody := fmt.Sprintf(`{"customer_id":%q,"currency":"JPY","lines":[{"description":"Tea","quantity":3,"unit_amount":450,"tax_rate_bps":800}]}`, cus.ID)
	_, inv1, _ := bill.Send("POST", "/v1/invoices", invBody, "Idempotency-Key", "inv-key")
	_, inv2, resp := bill.Send("POST", "/v1/invoices", invBody, "Idempotency-Key", "inv-key")
	if inv1 != inv2 || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("invoice replay: %s / %s", inv1, inv2)
	}
	var inv billing.Invoice
	_ = decodeInto(t, inv1, &inv)
	if inv.Total != 1350+108 || countPrefix(t, s, "INV#") != 1 {
		t.Errorf("invoice %+v, %d stored", inv, countPrefix(t, s, "INV#"))
	}

	// A retried finalize replays its success instead of failing with invoice_not_draft.
	path := "/v1/invoices/" + inv.ID + "/finalize"
	st1, f1, _ := bill.Send("POST", path, "", "Idempotency-Key", "fin-key")
	st2, f2, resp := bill.Send("POST", path, "", "Idempotency-Key", "fin-key")
	if st1 != 200 || st2 != 200 || f1 != f2 || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("finalize replay: %d %s / %d %s", st1, f1, st2, f2)
	}
	// Without the key, a second finalize is refused.
	if st, b, _ := bill.Send("POST", path, ""); st != 409 {
		t.Errorf("finalize without key: %d %s", st, b)
	}
	// A refusal is an outcome too: its replay is the same 422.
	bad := `{"name":"","email":"x@example.com"}`
	s1, b1, _ := bill.Send("POST", "/v1/customers", bad, "Idempotency-Key", "bad-key")
	s2, b2, resp := bill.Send("POST", "/v1/customers", bad, "Idempotency-Key", "bad-key")
	if s1 != 422 || s2 != 422 || resp.Header.Get("Idempotent-Replayed") != "true" || decodeProblem(t, b1).Code != decodeProblem(t, b2).Code {
		t.Errorf("refusal replay: %d %s / %d %s", s1, b1, s2, b2)
	}
}
