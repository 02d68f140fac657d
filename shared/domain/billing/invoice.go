package billing

import (
	"fmt"
	"slices"
	"time"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Status is an invoice's place in its lifecycle.
type Status string

// The invoice statuses. A draft is editable; from open on the invoice is immutable except for the
// status change itself and, on payment, amount_paid and amount_due.
const (
	Draft         Status = "draft"
	Open          Status = "open"
	Paid          Status = "paid"
	Void          Status = "void"
	Uncollectible Status = "uncollectible"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{Draft, Open, Paid, Void, Uncollectible}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Event is something that happens to an invoice.
type Event string

// The invoice events.
const (
	// Edit changes a draft's fields or lines; Delete removes a draft. Neither changes the status.
	Edit              Event = "edit"
	Delete            Event = "delete"
	Finalize          Event = "finalize"
	Pay               Event = "pay"
	VoidEvent         Event = "void"
	MarkUncollectible Event = "mark_uncollectible"
)

// Events lists every event.
var Events = []Event{Edit, Delete, Finalize, Pay, VoidEvent, MarkUncollectible}

// transitions is the state machine: for each event, the statuses it applies to and where it leads.
// draft → open → paid | void | uncollectible; uncollectible → void; a draft may be edited or deleted.
var transitions = map[Event]map[Status]Status{
	Edit:              {Draft: Draft},
	Delete:            {Draft: Draft},
	Finalize:          {Draft: Open},
	Pay:               {Open: Paid},
	VoidEvent:         {Open: Void, Uncollectible: Void},
	MarkUncollectible: {Open: Uncollectible},
}

// draftOnly are the events that need a draft; refusing them is invoice_not_draft rather than
// invalid_state, because the client's mistake is editing an issued invoice.
var draftOnly = map[Event]bool{Edit: true, Delete: true, Finalize: true}

// Next returns the status an invoice in status from moves to on ev, or a problem error: 409
// invoice_not_draft for editing, deleting or finalizing an issued invoice, 409 invalid_state for any
// other transition the state machine does not allow.
func Next(from Status, ev Event) (Status, error) {
	if to, ok := transitions[ev][from]; ok {
		return to, nil
	}
	if draftOnly[ev] {
		return "", problem.New(problem.InvoiceNotDraft, "The invoice is %s; only a draft can be changed, deleted or finalized.", from)
	}
	return "", problem.New(problem.InvalidState, "An invoice that is %s cannot be %s.", from, pastTense(ev))
}

func pastTense(ev Event) string {
	switch ev {
	case Pay:
		return "paid"
	case VoidEvent:
		return "voided"
	case MarkUncollectible:
		return "marked uncollectible"
	}
	return string(ev) + "d"
}

// Line is one invoice line with its computed amount and tax.
type Line struct {
	ID          string `json:"id" dynamodbav:"id"`
	Description string `json:"description" dynamodbav:"description"`
	Quantity    int64  `json:"quantity" dynamodbav:"quantity"`
	UnitAmount  int64  `json:"unit_amount" dynamodbav:"unit_amount"`
	// Amount is Quantity × UnitAmount.
	Amount int64 `json:"amount" dynamodbav:"amount"`
	// TaxRateBPS is the tax rate in basis points (1% = 100), 0..10000.
	TaxRateBPS int64 `json:"tax_rate_bps" dynamodbav:"tax_rate_bps"`
	// Tax is Amount × TaxRateBPS / 10000, rounded half away from zero.
	Tax int64 `json:"tax" dynamodbav:"tax"`
}

// Invoice is an invoice as the API shows it and the table stores it.
type Invoice struct {
	ID     string `json:"id" dynamodbav:"id"`
	Object string `json:"object" dynamodbav:"-"`
	Status Status `json:"status" dynamodbav:"status"`
	// Number is "INV-000001"-style, assigned at finalization; null on a draft.
	Number      *string  `json:"number" dynamodbav:"number,omitempty"`
	CustomerID  string   `json:"customer_id" dynamodbav:"customer_id"`
	Currency    Currency `json:"currency" dynamodbav:"currency"`
	DueDate     *string  `json:"due_date" dynamodbav:"due_date,omitempty"`
	Memo        *string  `json:"memo" dynamodbav:"memo,omitempty"`
	Lines       []Line   `json:"lines" dynamodbav:"lines"`
	Subtotal    int64    `json:"subtotal" dynamodbav:"subtotal"`
	Tax         int64    `json:"tax" dynamodbav:"tax"`
	Total       int64    `json:"total" dynamodbav:"total"`
	AmountPaid  int64    `json:"amount_paid" dynamodbav:"amount_paid"`
	AmountDue   int64    `json:"amount_due" dynamodbav:"amount_due"`
	PaymentID   *string  `json:"payment_id,omitempty" dynamodbav:"payment_id,omitempty"`
	CreatedAt   string   `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt   string   `json:"updated_at" dynamodbav:"updated_at"`
	FinalizedAt *string  `json:"finalized_at" dynamodbav:"finalized_at,omitempty"`
	PaidAt      *string  `json:"paid_at,omitempty" dynamodbav:"paid_at,omitempty"`
	VoidedAt    *string  `json:"voided_at,omitempty" dynamodbav:"voided_at,omitempty"`
	// AmountCredited is the sum of the pre-payment credit notes, taken off the amount due before any
	// payment: total = amount_credited + amount_paid + amount_due.
	AmountCredited int64 `json:"amount_credited" dynamodbav:"amount_credited"`
	// AmountRefunded is the sum of the post-payment credit notes, refunded from amount_paid (never more).
	AmountRefunded int64 `json:"amount_refunded" dynamodbav:"amount_refunded"`
	// MarkedUncollectibleAt is when the invoice was written off.
	MarkedUncollectibleAt *string `json:"marked_uncollectible_at,omitempty" dynamodbav:"marked_uncollectible_at,omitempty"`
	// Version increases with every stored change; writes are conditional on it (optimistic locking).
	Version int64 `json:"-" dynamodbav:"version"`
	// ClaimPaymentID and ClaimUntil are the hold of a payment attempt on an open invoice, from before
	// its card is charged until the outcome is stored: the attempt's id and the end of its lease (Unix
	// milliseconds). While an invoice is held no other payment starts and it cannot be voided or written
	// off, since the charge may already have gone through. Clients never see them.
	ClaimPaymentID string `json:"-" dynamodbav:"claim_payment_id,omitempty"`
	ClaimUntil     int64  `json:"-" dynamodbav:"claim_until,omitempty"`
	// RefundReserved is what the refunds of a paid invoice hold: those refunded plus those in flight
	// (PendingRefunds, the ids of their credit notes). A refund reserves its amount before the
	// processor is asked, on condition that RefundReserved + amount stays within AmountPaid, so
	// refunds can never exceed the payment whatever runs at the same time. Clients never see them.
	RefundReserved int64    `json:"-" dynamodbav:"refund_reserved,omitempty"`
	PendingRefunds []string `json:"-" dynamodbav:"pending_refunds,stringset,omitempty"`
}

// ObjectInvoice is the "object" of an invoice.
const ObjectInvoice = "invoice"

// Totals are an invoice's sums.
type Totals struct {
	Subtotal, Tax, Total int64
}

// ComputeLines fills each line's Amount and Tax and returns the invoice totals:
// amount = quantity × unit_amount, tax = amount × rate / 10000 rounded half away from zero at the line,
// subtotal = Σ amount, tax = Σ tax, total = subtotal + tax. Any product or sum outside int64 is an
// error naming the line, never a wrapped value.
func ComputeLines(lines []Line) (Totals, error) {
	var t Totals
	var err error
	for i := range lines {
		l := &lines[i]
		if l.Amount, err = mul(l.Quantity, l.UnitAmount); err != nil {
			return Totals{}, overflow(fmt.Sprintf("lines[%d].unit_amount", i), "quantity × unit_amount")
		}
		if l.Tax, err = TaxOf(l.Amount, l.TaxRateBPS); err != nil {
			return Totals{}, overflow(fmt.Sprintf("lines[%d].tax_rate_bps", i), "the line's tax")
		}
		if t.Subtotal, err = add(t.Subtotal, l.Amount); err != nil {
			return Totals{}, overflow("lines", "the subtotal")
		}
		if t.Tax, err = add(t.Tax, l.Tax); err != nil {
			return Totals{}, overflow("lines", "the tax")
		}
	}
	if t.Total, err = add(t.Subtotal, t.Tax); err != nil {
		return Totals{}, overflow("lines", "the total")
	}
	return t, nil
}

func overflow(field, what string) error {
	return problem.Invalid(problem.FieldError{Field: field, Message: what + " exceeds the largest representable amount"})
}

// Recompute sets the invoice's line amounts, totals and amount due from its lines.
func (inv *Invoice) Recompute() error {
	t, err := ComputeLines(inv.Lines)
	if err != nil {
		return err
	}
	inv.Subtotal, inv.Tax, inv.Total = t.Subtotal, t.Tax, t.Total
	inv.AmountDue = inv.Total - inv.AmountPaid - inv.AmountCredited
	return nil
}

// FormatNumber renders the n-th invoice number: INV-000001. Numbers beyond six digits keep growing.
func FormatNumber(n int64) string { return fmt.Sprintf("INV-%06d", n) }

// TimeLayout is the API's timestamp format: RFC 3339 in UTC with fixed-width milliseconds, so that
// timestamps sort as strings (lists are ordered by created_at).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Apply moves inv through ev at now, checking the state machine. It sets the status and its timestamp;
// the number (Finalize) and payment fields (Pay) are the caller's, since they come from storage. An
// invoice held by a payment attempt only moves by that payment (Pay): voiding or writing it off then
// could void an invoice whose card has just been charged.
func (inv *Invoice) Apply(ev Event, now time.Time) error {
	if inv.ClaimPaymentID != "" && ev != Pay {
		return PaymentInProgress()
	}
	to, err := Next(inv.Status, ev)
	if err != nil {
		return err
	}
	ts := FormatTime(now)
	switch ev {
	case Finalize:
		inv.FinalizedAt = &ts
	case Pay:
		inv.PaidAt = &ts
		inv.AmountPaid = inv.AmountDue // what was left after pre-payment credit notes
		inv.AmountDue = 0
	case VoidEvent:
		inv.VoidedAt = &ts
	case MarkUncollectible:
		inv.MarkedUncollectibleAt = &ts
	}
	inv.Status = to
	inv.UpdatedAt = ts
	return nil
}
