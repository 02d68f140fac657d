// Package processor is the seam between Vaultbill and a card processor: the payments function charges
// through the Processor interface, and the sandbox processor decides by test card number, as a real
// processor's test mode does.
package processor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/vaultbill/vaultbill/shared/card"
)

// Outcome is what the processor decided.
type Outcome string

// Outcomes.
const (
	Succeeded Outcome = "succeeded"
	Declined  Outcome = "declined"
)

// Decline reasons, as processors report them.
const (
	ReasonCardDeclined      = "card_declined"
	ReasonInsufficientFunds = "insufficient_funds"
)

// Charge asks for money from a card.
type Charge struct {
	// IdempotencyKey identifies the payment attempt. A processor charges one key at most once and answers
	// a repeated key with the first result, which is what makes retries after a crash safe.
	IdempotencyKey string
	Amount         int64
	Currency       string
	Card           card.Card
}

// Result is the processor's answer.
type Result struct {
	// ChargeID is the processor's reference for the charge (also for a decline).
	ChargeID string
	Outcome  Outcome
	// DeclineReason is set when Outcome is Declined.
	DeclineReason string
}

// Processor charges cards. An error means the outcome is unknown (a network fault): the caller must
// retry with the same idempotency key, never with a new one.
type Processor interface {
	Charge(ctx context.Context, c Charge) (Result, error)
}

// Sandbox is the default processor: no money moves. It answers by card number, with the test cards of
// DESIGN §5, and keeps every charge it accepted so tests can count real charges.
type Sandbox struct {
	mu       sync.Mutex
	results  map[string]Result // by idempotency key
	accepted []Charged
}

// Charged is a charge the sandbox accepted.
type Charged struct {
	ChargeID, IdempotencyKey, Currency string
	Amount                             int64
}

// The sandbox's test cards.
const (
	TestVisa              = "4242424242424242"
	TestMastercard        = "5555555555554444"
	TestDeclined          = "4000000000000002"
	TestInsufficientFunds = "4000000000009995"
	errMissingKey         = "processor: a charge needs an idempotency key"
)

// NewSandbox returns an empty sandbox processor.
func NewSandbox() *Sandbox { return &Sandbox{results: map[string]Result{}} }

// Charge decides by card number: the two success cards succeed, the two decline cards are declined,
// any other number is declined as a real test mode would.
func (s *Sandbox) Charge(_ context.Context, c Charge) (Result, error) {
	if c.IdempotencyKey == "" {
		return Result{}, errors.New(errMissingKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.results[c.IdempotencyKey]; ok {
		return r, nil
	}
	r := Result{ChargeID: newChargeID(), Outcome: Declined, DeclineReason: ReasonCardDeclined}
	switch {
	case c.Card.Number.Equal(TestVisa), c.Card.Number.Equal(TestMastercard):
		r.Outcome, r.DeclineReason = Succeeded, ""
		s.accepted = append(s.accepted, Charged{ChargeID: r.ChargeID, IdempotencyKey: c.IdempotencyKey, Amount: c.Amount, Currency: c.Currency})
	case c.Card.Number.Equal(TestInsufficientFunds):
		r.DeclineReason = ReasonInsufficientFunds
	}
	s.results[c.IdempotencyKey] = r
	return r, nil
}

// Accepted returns the charges the sandbox accepted, in order.
func (s *Sandbox) Accepted() []Charged {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Charged(nil), s.accepted...)
}

func newChargeID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("processor: crypto/rand failed: " + err.Error())
	}
	return "ch_" + hex.EncodeToString(b[:])
}
