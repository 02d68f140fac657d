package payments_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestPay: an open invoice paid with a token of its customer is paid once, for its amount due, with
// the payment's id as the processor's idempotency key, and the request leaves its PayInvoice record
// and one Detokenize record.
func TestPay(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	inv := ps.billing.Open(cus)
	tok := ps.pay.Tokenize(cus, processor.TestVisa)

	status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", "pay-1")
	if status != 200 {
		t.Fatalf("pay: %d %s", status, body)
	}
	got := stacktest.Decode[payments.PayResponse](t, body)
	if got.Invoice.Status != billing.Paid || got.Invoice.AmountPaid != 4758 || got.Invoice.AmountDue != 0 ||
		got.Invoice.PaymentID == nil || *got.Invoice.PaymentID != got.Payment.ID || got.Invoice.PaidAt == nil {
		t.Errorf("invoice after pay: %+v", got.Invoice)
	}
	wantPay := billing.Payment{
		ID: got.Payment.ID, Object: "payment", InvoiceID: inv.ID, CustomerID: cus, TokenID: tok,
		Status: billing.PaymentSucceeded, Amount: 4758, Currency: "EUR",
		CreatedAt: got.Payment.CreatedAt, UpdatedAt: got.Payment.UpdatedAt,
	}
	if diff := cmp.Diff(wantPay, *got.Payment); diff != "" {
		t.Errorf("payment (-want +got):\n%s", diff)
	}

	// What is stored agrees, and the claim is gone.
	stored := stacktest.StoredInvoice(ps.t, ps.s, inv.ID)
	if stored.Status != billing.Paid || stored.ClaimPaymentID != "" || stored.ClaimUntil != 0 {
		t.Errorf("stored invoice: %+v", stored)
	}
	list := ps.payments(inv.ID)
	if len(list) != 1 || list[0].Status != billing.PaymentSucceeded || list[0].ChargeID == "" {
		t.Errorf("stored payments: %+v", list)
	}
	// The processor charged once, under the attempt's id.
	charged := ps.sandbox.Accepted()
	if len(charged) != 1 || charged[0].IdempotencyKey != got.Payment.ID || charged[0].Amount != 4758 || charged[0].Currency != "EUR" {
		t.Errorf("charges: %+v", charged)
	}

	// The invoice is shown paid by the invoices function too.
	var read billing.Invoice
	ps.billing.Must(200, "GET", "/v1/invoices/"+inv.ID, "", &read)
	if read.Status != billing.Paid || read.AmountDue != 0 {
		t.Errorf("GET after pay: %+v", read)
	}

	// A replay with the same key answers the same, charging nothing.
	status2, body2 := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", "pay-1")
	if status2 != 200 || body2 != body {
		t.Errorf("replay: %d %s", status2, body2)
	}
	// Paying it again with another key is refused.
	status3, body3 := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", "pay-2")
	if p := stacktest.Decode[stacktest.Problem](t, body3); status3 != 409 || p.Code != "invalid_state" {
		t.Errorf("second pay: %d %s", status3, body3)
	}
	if n := len(ps.sandbox.Accepted()); n != 1 {
		t.Errorf("%d charges after a replay and a second pay, want 1", n)
	}
	assertNoCardNumber(t, body, processor.TestVisa)

	// Audit: one PayInvoice record per request, one Detokenize for the one decryption, one ClaimInvoice
	// for the one attempt.
	names := map[string]int{}
	for _, rec := range stacktest.AuditRecords(ps.t, ps.s) {
		if rec.EventSource == "payments.vaultbill" {
			names[rec.EventName]++
		}
	}
	if diff := cmp.Diff(map[string]int{"PayInvoice": 3, vault.DetokenizeEvent: 1, payments.ClaimEvent: 1}, names); diff != "" {
		t.Errorf("audit records of the payments function (-want +got):\n%s", diff)
	}
}

// TestDecline: a declined card answers 402 card_declined with the processor's reason, the attempt is
// recorded as failed with that failure code, the invoice stays open and unclaimed, and a good card
// pays it afterwards.
func TestDecline(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Grace").ID
	inv := ps.billing.Open(cus)
	tests := []struct{ number, reason string }{
		{processor.TestDeclined, processor.ReasonCardDeclined},
		{processor.TestInsufficientFunds, processor.ReasonInsufficientFunds},
	}
	for i, tt := range tests {
		tok := ps.pay.Tokenize(cus, tt.number)
		key := "decline-" + tt.reason
		status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", key)
		p := stacktest.Decode[stacktest.Problem](t, body)
		if status != 402 || p.Code != "card_declined" || p.Reason != tt.reason {
			t.Errorf("%s: %d %s", tt.reason, status, body)
		}
		assertNoCardNumber(t, body, tt.number)
		stored := stacktest.StoredInvoice(ps.t, ps.s, inv.ID)
		if stored.Status != billing.Open || stored.ClaimPaymentID != "" || stored.AmountDue != 4758 {
			t.Errorf("%s: invoice after a decline: %+v", tt.reason, stored)
		}
		list := ps.payments(inv.ID)
		if len(list) != i+1 {
			t.Fatalf("%s: %d payments recorded, want %d", tt.reason, len(list), i+1)
		}
		if last := list[i]; last.Status != billing.PaymentFailed || last.FailureCode != tt.reason || last.TokenID != tok {
			t.Errorf("%s: recorded payment %+v", tt.reason, last)
		}
		// The decline is the settled answer to its key: a replay repeats it, nothing is charged again.
		status2, body2 := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", key)
		if status2 != 402 || body2 != body {
			t.Errorf("%s: replay %d %s", tt.reason, status2, body2)
		}
		if n := len(ps.payments(inv.ID)); n != i+1 {
			t.Errorf("%s: a replay recorded another attempt (%d)", tt.reason, n)
		}
	}
	if n := len(ps.sandbox.Accepted()); n != 0 {
		t.Fatalf("%d charges accepted for declined cards", n)
	}

	good := ps.pay.Tokenize(cus, processor.TestMastercard)
	status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(good))
	if status != 200 {
		t.Fatalf("pay with a good card after declines: %d %s", status, body)
	}
	if got := statuses(ps.payments(inv.ID)); !cmp.Equal(got, map[billing.PaymentStatus]int{billing.PaymentFailed: 2, billing.PaymentSucceeded: 1}) {
		t.Errorf("payments: %v", got)
	}
	if n := len(ps.sandbox.Accepted()); n != 1 {
		t.Errorf("%d charges, want 1", n)
	}

	// The declined requests' audit records carry the code; each has its Detokenize record.
	var declined, detok int
	for _, rec := range stacktest.AuditRecords(ps.t, ps.s) {
		switch {
		case rec.EventName == "PayInvoice" && rec.ErrorCode == "card_declined":
			declined++
		case rec.EventName == vault.DetokenizeEvent:
			detok++
		}
	}
	if declined != 2 || detok != 3 {
		t.Errorf("audit: %d declined PayInvoice records (want 2), %d Detokenize (want 3)", declined, detok)
	}
}
