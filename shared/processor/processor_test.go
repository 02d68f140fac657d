package processor

import (
	"context"
	"testing"

	"github.com/vaultbill/vaultbill/shared/card"
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
