// Package processor is the seam between Vaultbill and a card processor: the payments function charges
// and the credit-notes function refunds through the Processor interface, and the sandbox processor
// decides by test card number, as a real processor's test mode does.
package processor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
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

// Refund asks for money back from an earlier charge. It names the charge only: a refund needs no card
// number, so the function that refunds never touches the vault.
type Refund struct {
	// IdempotencyKey identifies the refund (the credit note's id): a processor refunds one key at most
	// once and answers a repeated key with the first result.
	IdempotencyKey string
	ChargeID       string
	Amount         int64
	Currency       string
}

// RefundResult is the processor's answer to a refund.
type RefundResult struct {
	// RefundID is the processor's reference for the refund (also for a refusal).
	RefundID string
	// Outcome is Succeeded, or Declined when the processor refused the refund.
	Outcome Outcome
	// FailureReason is set when Outcome is Declined.
	FailureReason string
}

// ReasonRefundRefused is the sandbox's reason for a refused refund.
const ReasonRefundRefused = "refund_not_supported"

// Processor charges cards and refunds charges. An error means the outcome is unknown (a network
// fault): the caller must retry with the same idempotency key, never with a new one.
type Processor interface {
	Charge(ctx context.Context, c Charge) (Result, error)
	Refund(ctx context.Context, r Refund) (RefundResult, error)
}

// Sandbox is the default processor: no money moves. It answers by card number, with the test cards of
// DESIGN §5, and keeps every charge and refund it accepted so tests can count real ones.
//
// A refund names only the charge, and in AWS the function that refunds is not the one that charged,
// so the sandbox cannot rely on its memory to know which card a charge used: a real processor keeps
// that on its side, and the sandbox keeps it in the charge id instead. A charge of the refund-failing
// test card gets an id with the norefundPrefix, and every sandbox, in any process, refuses refunds of
// it. The amounts of the charges it made itself are remembered in process, and a refund beyond what
// is left of such a charge is refused, as a real processor would.
type Sandbox struct {
	mu       sync.Mutex
	results  map[string]Result // by idempotency key
	accepted []Charged
	charged  map[string]int64        // amount left to refund, by charge id (charges of this instance)
	refunds  map[string]RefundResult // by idempotency key
	refunded []Refunded
}

// Refunded is a refund the sandbox accepted.
type Refunded struct {
	RefundID, ChargeID, IdempotencyKey, Currency string
	Amount                                       int64
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
	// TestRefundFails is charged, but every refund of its charges is refused.
	TestRefundFails = "4000000000005126"
	errMissingKey   = "processor: a charge needs an idempotency key"
	// norefundPrefix starts the id of a charge the sandbox will not refund.
	norefundPrefix = "ch_norefund_"
)

// NewSandbox returns an empty sandbox processor.
func NewSandbox() *Sandbox {
	return &Sandbox{results: map[string]Result{}, charged: map[string]int64{}, refunds: map[string]RefundResult{}}
}

// Charge decides by card number: the two success cards and the refund-failing card succeed, the two
// decline cards are declined, any other number is declined as a real test mode would.
func (s *Sandbox) Charge(_ context.Context, c Charge) (Result, error) {
	if c.IdempotencyKey == "" {
		return Result{}, errors.New(errMissingKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.results[c.IdempotencyKey]; ok {
		return r, nil
	}
	r := Result{ChargeID: newID("ch_"), Outcome: Declined, DeclineReason: ReasonCardDeclined}
	switch {
	case c.Card.Number.Equal(TestVisa), c.Card.Number.Equal(TestMastercard), c.Card.Number.Equal(TestRefundFails):
		if c.Card.Number.Equal(TestRefundFails) {
			r.ChargeID = newID(norefundPrefix)
		}
		r.Outcome, r.DeclineReason = Succeeded, ""
		s.accepted = append(s.accepted, Charged{ChargeID: r.ChargeID, IdempotencyKey: c.IdempotencyKey, Amount: c.Amount, Currency: c.Currency})
		s.charged[r.ChargeID] = c.Amount
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

// Refund refunds every charge but those of TestRefundFails, and refuses a refund beyond what is left of
// a charge it made itself. A repeated idempotency key is answered with the first result.
func (s *Sandbox) Refund(_ context.Context, r Refund) (RefundResult, error) {
	if r.IdempotencyKey == "" {
		return RefundResult{}, errors.New("processor: a refund needs an idempotency key")
	}
	if r.ChargeID == "" || r.Amount <= 0 {
		return RefundResult{}, errors.New("processor: a refund needs a charge and a positive amount")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if res, ok := s.refunds[r.IdempotencyKey]; ok {
		return res, nil
	}
	res := RefundResult{RefundID: newID("prf_"), Outcome: Declined, FailureReason: ReasonRefundRefused}
	left, known := s.charged[r.ChargeID]
	switch {
	case strings.HasPrefix(r.ChargeID, norefundPrefix):
	case known && r.Amount > left:
		res.FailureReason = "amount_exceeds_charge"
	default:
		res.Outcome, res.FailureReason = Succeeded, ""
		if known {
			s.charged[r.ChargeID] = left - r.Amount
		}
		s.refunded = append(s.refunded, Refunded{RefundID: res.RefundID, ChargeID: r.ChargeID, IdempotencyKey: r.IdempotencyKey, Amount: r.Amount, Currency: r.Currency})
	}
	s.refunds[r.IdempotencyKey] = res
	return res, nil
}

// Refunds returns the refunds the sandbox accepted, in order.
func (s *Sandbox) Refunds() []Refunded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Refunded(nil), s.refunded...)
}

func newID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("processor: crypto/rand failed: " + err.Error())
	}
	return prefix + hex.EncodeToString(b[:])
}

// EnvProcessor names the card processor of the functions that charge and refund (payments,
// credit-notes): "sandbox" (the default) decides by test card number and moves no money.
const EnvProcessor = resources.EnvPaymentProcessor

// EnvStage is the deployment stage the CDK app declares on those functions: StageTest or
// StageProduction. The local stack sets none.
const EnvStage = resources.EnvStage

// Stages.
const (
	StageTest       = resources.StageTest
	StageProduction = resources.StageProduction
)

// SandboxName is the EnvProcessor value of the sandbox processor.
const SandboxName = resources.SandboxProcessor

// New returns the card processor named by EnvProcessor's value: "sandbox" (the default when unset)
// decides by test card number and moves no money, so it refuses a production stage (see Check).
func New(name, stage string) (Processor, error) {
	if err := Check(name, stage); err != nil {
		return nil, err
	}
	switch name {
	case "", SandboxName:
		return NewSandbox(), nil
	}
	return nil, fmt.Errorf("%s=%q is not a known card processor; use %s", EnvProcessor, name, SandboxName)
}

// Check refuses the sandbox processor (name "" or "sandbox") where the stage is production
// (resources.CheckProcessorStage: the CDK app runs the same check at synth).
func Check(name, stage string) error { return resources.CheckProcessorStage(name, stage) }
