package billing

import (
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

func TestPayable(t *testing.T) {
	tests := []struct {
		name string
		inv  Invoice
		want problem.Code
	}{
		{"open with amount due", Invoice{Status: Open, AmountDue: 100}, ""},
		{"draft", Invoice{Status: Draft, AmountDue: 100}, problem.InvalidState},
		{"paid", Invoice{Status: Paid}, problem.InvalidState},
		{"void", Invoice{Status: Void, AmountDue: 100}, problem.InvalidState},
		{"uncollectible", Invoice{Status: Uncollectible, AmountDue: 100}, problem.InvalidState},
		{"nothing due", Invoice{Status: Open}, problem.InvalidState},
		{"held by a payment", Invoice{Status: Open, AmountDue: 100, ClaimPaymentID: "pay_x"}, problem.InvalidState},
	}
	for _, tt := range tests {
		if got := problem.CodeOf(tt.inv.Payable()); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// An invoice whose card may just have been charged must not be voided or written off under it.
func TestHeldInvoiceMovesOnlyByItsPayment(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, ev := range []Event{VoidEvent, MarkUncollectible} {
		inv := &Invoice{Status: Open, Total: 500, AmountDue: 500, ClaimPaymentID: "pay_x"}
		if err := inv.Apply(ev, now); problem.CodeOf(err) != problem.InvalidState || inv.Status != Open {
			t.Errorf("%s of a held invoice: %v, status %s", ev, err, inv.Status)
		}
	}
	inv := &Invoice{Status: Open, Total: 500, AmountDue: 500, ClaimPaymentID: "pay_x"}
	if err := inv.Apply(Pay, now); err != nil || inv.Status != Paid {
		t.Errorf("pay of a held invoice: %v, status %s", err, inv.Status)
	}
}
