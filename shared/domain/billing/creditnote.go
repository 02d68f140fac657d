package billing

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// CreditNoteType says whether a credit note was issued before or after its invoice was paid.
type CreditNoteType string

// The credit note types. A pre-payment note lowers what is due; a post-payment note refunds the payment.
const (
	PrePayment  CreditNoteType = "pre_payment"
	PostPayment CreditNoteType = "post_payment"
)

// CreditNoteStatus is where a credit note stands.
type CreditNoteStatus string

// The credit note statuses. A post-payment note is pending from the moment it reserves its refund until
// the processor's answer is stored; clients only ever see issued notes (a refused refund deletes its
// pending note).
const (
	CreditNotePending CreditNoteStatus = "pending"
	CreditNoteIssued  CreditNoteStatus = "issued"
)

// Reason is why a credit note was issued.
type Reason string

// The reasons of DESIGN §5.
const (
	ReasonDuplicate             Reason = "duplicate"
	ReasonFraudulent            Reason = "fraudulent"
	ReasonOrderChange           Reason = "order_change"
	ReasonProductUnsatisfactory Reason = "product_unsatisfactory"
)

// Reasons lists every reason.
var Reasons = []Reason{ReasonDuplicate, ReasonFraudulent, ReasonOrderChange, ReasonProductUnsatisfactory}

// Valid reports whether r is a known reason.
func (r Reason) Valid() bool { return slices.Contains(Reasons, r) }

// RefundStatus is the outcome of a refund; only succeeded refunds are ever stored.
type RefundStatus string

// RefundSucceeded is a refund the processor accepted.
const RefundSucceeded RefundStatus = "succeeded"

// Refund is the money a post-payment credit note returned to the invoice's card.
type Refund struct {
	ID        string       `json:"id" dynamodbav:"id"`
	PaymentID string       `json:"payment_id" dynamodbav:"payment_id"`
	Amount    int64        `json:"amount" dynamodbav:"amount"`
	Status    RefundStatus `json:"status" dynamodbav:"status"`
	// ProcessorRefundID is the processor's reference, kept for reconciliation.
	ProcessorRefundID string `json:"-" dynamodbav:"processor_refund_id,omitempty"`
}

// ObjectCreditNote is the "object" of a credit note.
const ObjectCreditNote = "credit_note"

// CreditNote lowers what an invoice asks for (pre-payment) or refunds part of its payment (post-payment).
type CreditNote struct {
	ID     string `json:"id" dynamodbav:"id"`
	Object string `json:"object" dynamodbav:"-"`
	// Number is "CN-000001"-style, gapless, assigned in the transaction that issues the note.
	Number     string           `json:"number" dynamodbav:"number,omitempty"`
	InvoiceID  string           `json:"invoice_id" dynamodbav:"invoice_id"`
	CustomerID string           `json:"customer_id" dynamodbav:"customer_id"`
	Currency   Currency         `json:"currency" dynamodbav:"currency"`
	Amount     int64            `json:"amount" dynamodbav:"amount"`
	Reason     Reason           `json:"reason" dynamodbav:"reason"`
	Memo       *string          `json:"memo" dynamodbav:"memo,omitempty"`
	Type       CreditNoteType   `json:"type" dynamodbav:"type"`
	Refund     *Refund          `json:"refund" dynamodbav:"refund,omitempty"`
	Status     CreditNoteStatus `json:"status" dynamodbav:"status"`
	CreatedAt  string           `json:"created_at" dynamodbav:"created_at"`
	// PaymentID is the payment a post-payment note refunds (also while it is pending).
	PaymentID string `json:"-" dynamodbav:"payment_id,omitempty"`
	// ClaimUntil is the end of a pending note's lease (Unix ms): until then the request that reserved
	// it is asking the processor; afterwards the next credit note request on the invoice recovers it.
	ClaimUntil int64 `json:"-" dynamodbav:"claim_until,omitempty"`
	// RequestKey identifies the request that created a pending note (its principal and
	// Idempotency-Key, hashed), so that the client's retry of that request is answered with the
	// recovered note instead of refunding a second time.
	RequestKey string `json:"-" dynamodbav:"request_key,omitempty"`
}

// MaxCreditNoteMemoLength bounds a credit note's memo, in characters.
const MaxCreditNoteMemoLength = 500

// CreditNoteInput is the body of POST /v1/invoices/{id}/credit-notes.
type CreditNoteInput struct {
	Amount *int64  `json:"amount"`
	Reason string  `json:"reason"`
	Memo   *string `json:"memo"`
}

// Validate checks what can be checked without the invoice: a positive amount, a known reason, a memo of
// at most 500 characters. Whether the amount fits what is left is CreditFits' question.
func (in CreditNoteInput) Validate() error {
	var errs Errors
	switch {
	case in.Amount == nil:
		errs.Add("amount", "is required")
	case *in.Amount <= 0:
		errs.Add("amount", "must be a positive whole number of minor units")
	}
	if !Reason(in.Reason).Valid() {
		errs.Add("reason", "must be one of duplicate, fraudulent, order_change, product_unsatisfactory")
	}
	if in.Memo != nil {
		if !utf8.ValidString(*in.Memo) || utf8.RuneCountInString(*in.Memo) > MaxCreditNoteMemoLength {
			errs.Add("memo", fmt.Sprintf("must be at most %d characters", MaxCreditNoteMemoLength))
		}
	}
	return errs.Err()
}

// CreditNoteTypeOf says what a credit note on inv would be: pre-payment on an open invoice that no
// payment attempt holds, post-payment on a paid one. Other statuses are 409 invalid_state.
func (inv *Invoice) CreditNoteTypeOf() (CreditNoteType, error) {
	switch inv.Status {
	case Open:
		if inv.ClaimPaymentID != "" {
			return "", PaymentInProgress()
		}
		return PrePayment, nil
	case Paid:
		return PostPayment, nil
	}
	return "", problem.New(problem.InvalidState, "An invoice that is %s cannot be credited; only open and paid invoices can.", inv.Status)
}

// CreditLeft is what a credit note of type t may still take from inv: the amount due of an open
// invoice, or what of a paid invoice's payment is neither refunded nor being refunded.
func (inv *Invoice) CreditLeft(t CreditNoteType) int64 {
	if t == PrePayment {
		return inv.AmountDue
	}
	if inv.PaymentID == nil {
		return 0 // paid by credit notes alone: there is no payment to refund
	}
	return inv.AmountPaid - inv.RefundReserved
}

// CreditFits refuses an amount above what is left (422 on the amount field).
func (inv *Invoice) CreditFits(t CreditNoteType, amount int64) error {
	if left := inv.CreditLeft(t); amount > left {
		what := "the amount due"
		if t == PostPayment {
			what = "what is left of the payment to refund"
		}
		return problem.Invalid(problem.FieldError{Field: "amount", Message: fmt.Sprintf("exceeds %s (%d)", what, left)})
	}
	return nil
}

// ApplyCredit takes a pre-payment credit note of amount off an open invoice at now: the amount due
// falls and amount_credited rises by it; an invoice with nothing left due becomes paid, with no payment.
func (inv *Invoice) ApplyCredit(amount int64, now time.Time) error {
	if err := inv.CreditFits(PrePayment, amount); err != nil {
		return err
	}
	inv.AmountDue -= amount
	inv.AmountCredited += amount
	inv.UpdatedAt = FormatTime(now)
	if inv.AmountDue == 0 {
		// Nothing was paid: the credit notes settled it, so amount_paid stays 0 and there is no payment.
		if err := inv.Apply(Pay, now); err != nil {
			return err
		}
	}
	return nil
}

// FormatCreditNoteNumber renders the n-th credit note number: CN-000001.
func FormatCreditNoteNumber(n int64) string { return fmt.Sprintf("CN-%06d", n) }
