package processor

import (
	"context"
	"testing"

	"github.com/vaultbill/vaultbill/shared/domain/card"
)

func charge(number, key string) Charge {
	return Charge{IdempotencyKey: key, Amount: 1000, Currency: "USD", Card: card.Card{Number: card.NewPAN([]byte(number))}}
}

func TestSandboxTestCards(t *testing.T) {
	tests := []struct {
		number      string
		wantOutcome Outcome
		wantReason  string
	}{
		{TestVisa, Succeeded, ""},
		{TestMastercard, Succeeded, ""},
		{TestDeclined, Declined, ReasonCardDeclined},
		{TestInsufficientFunds, Declined, ReasonInsufficientFunds},
		{"4111111111111111", Declined, ReasonCardDeclined},
	}
	s := NewSandbox()
	for _, tt := range tests {
		r, err := s.Charge(context.Background(), charge(tt.number, "k-"+tt.number))
		if err != nil || r.Outcome != tt.wantOutcome || r.DeclineReason != tt.wantReason || r.ChargeID == "" {
			t.Errorf("card ending %s: %+v, %v; want %s %s", tt.number[12:], r, err, tt.wantOutcome, tt.wantReason)
		}
	}
	if n := len(s.Accepted()); n != 2 {
		t.Errorf("%d charges accepted, want 2", n)
	}
}

func TestSandboxChargesAKeyOnce(t *testing.T) {
	s := NewSandbox()
	first, _ := s.Charge(context.Background(), charge(TestVisa, "attempt-1"))
	again, _ := s.Charge(context.Background(), charge(TestVisa, "attempt-1"))
	if again != first || len(s.Accepted()) != 1 {
		t.Errorf("a repeated key charged again: %+v then %+v, %d accepted", first, again, len(s.Accepted()))
	}
	if _, err := s.Charge(context.Background(), charge(TestVisa, "")); err == nil {
		t.Error("a charge without an idempotency key was accepted")
	}
}

func TestSandboxRefunds(t *testing.T) {
	ctx := context.Background()
	s := NewSandbox()
	ok, _ := s.Charge(ctx, charge(TestVisa, "pay-1"))
	refusing, _ := s.Charge(ctx, charge(TestRefundFails, "pay-2"))
	if refusing.Outcome != Succeeded {
		t.Fatalf("the refund-failing card is charged: %+v", refusing)
	}
	r, err := s.Refund(ctx, Refund{IdempotencyKey: "cn-1", ChargeID: ok.ChargeID, Amount: 600, Currency: "USD"})
	if err != nil || r.Outcome != Succeeded || r.RefundID == "" {
		t.Fatalf("refund: %+v, %v", r, err)
	}
	if again, _ := s.Refund(ctx, Refund{IdempotencyKey: "cn-1", ChargeID: ok.ChargeID, Amount: 600}); again != r {
		t.Errorf("a repeated key refunded again: %+v", again)
	}
	if over, _ := s.Refund(ctx, Refund{IdempotencyKey: "cn-2", ChargeID: ok.ChargeID, Amount: 401}); over.Outcome != Declined {
		t.Errorf("a refund beyond the charge was accepted: %+v", over)
	}
	if r, _ := s.Refund(ctx, Refund{IdempotencyKey: "cn-3", ChargeID: refusing.ChargeID, Amount: 1}); r.Outcome != Declined || r.FailureReason != ReasonRefundRefused {
		t.Errorf("refund of the refund-failing card: %+v", r)
	}
	// Another instance (another Lambda) knows the class from the charge id alone.
	other := NewSandbox()
	if r, _ := other.Refund(ctx, Refund{IdempotencyKey: "cn-4", ChargeID: refusing.ChargeID, Amount: 1}); r.Outcome != Declined {
		t.Errorf("another sandbox refunded the refund-failing card: %+v", r)
	}
	if r, _ := other.Refund(ctx, Refund{IdempotencyKey: "cn-5", ChargeID: ok.ChargeID, Amount: 1}); r.Outcome != Succeeded {
		t.Errorf("another sandbox refused a refundable charge: %+v", r)
	}
	if got := s.Refunds(); len(got) != 1 || got[0].Amount != 600 {
		t.Errorf("accepted refunds: %+v", got)
	}
	if _, err := s.Refund(ctx, Refund{ChargeID: ok.ChargeID, Amount: 1}); err == nil {
		t.Error("a refund without an idempotency key was accepted")
	}
}
