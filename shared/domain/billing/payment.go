package billing

import "github.com/vaultbill/vaultbill/shared/domain/problem"

// PaymentStatus is where a payment attempt stands.
type PaymentStatus string

// The payment statuses. An attempt is processing from the moment it claims its invoice until its
// outcome is stored; only then is it succeeded or failed, and it never changes again.
const (
	PaymentProcessing PaymentStatus = "processing"
	PaymentSucceeded  PaymentStatus = "succeeded"
	PaymentFailed     PaymentStatus = "failed"
)

// ObjectPayment is the "object" of a payment.
const ObjectPayment = "payment"

// Payment is one attempt to charge an invoice's amount due to a card token. Its id is also the
// idempotency key the card processor is given, so asking the processor again about the same attempt
// (after a crash) can never charge twice.
type Payment struct {
	ID         string        `json:"id" dynamodbav:"id"`
	Object     string        `json:"object" dynamodbav:"-"`
	InvoiceID  string        `json:"invoice_id" dynamodbav:"invoice_id"`
	CustomerID string        `json:"customer_id" dynamodbav:"customer_id"`
	TokenID    string        `json:"token" dynamodbav:"token_id"`
	Status     PaymentStatus `json:"status" dynamodbav:"status"`
	Amount     int64         `json:"amount" dynamodbav:"amount"`
	Currency   Currency      `json:"currency" dynamodbav:"currency"`
	// AmountRefunded is what the invoice's post-payment credit notes refunded of Amount.
	AmountRefunded int64 `json:"amount_refunded" dynamodbav:"amount_refunded"`
	// FailureCode is the processor's decline reason (card_declined, insufficient_funds) of a failed payment.
	FailureCode string `json:"failure_code,omitempty" dynamodbav:"failure_code,omitempty"`
	// ChargeID is the processor's reference, kept for reconciliation; clients do not need it.
	ChargeID  string `json:"-" dynamodbav:"charge_id,omitempty"`
	CreatedAt string `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt string `json:"updated_at" dynamodbav:"updated_at"`
}

// Payable reports whether the invoice may be charged now: it must be open, have an amount due, and not
// be held by another payment attempt. Refusals are 409 invalid_state.
func (inv *Invoice) Payable() error {
	if inv.Status != Open {
		_, err := Next(inv.Status, Pay)
		return err
	}
	if inv.ClaimPaymentID != "" {
		return PaymentInProgress()
	}
	if inv.AmountDue <= 0 {
		return problem.New(problem.InvalidState, "The invoice has no amount due.")
	}
	return nil
}

// PaymentInProgress is the refusal of a change to an invoice while a payment attempt holds it.
func PaymentInProgress() error {
	return problem.New(problem.InvalidState, "A payment of this invoice is in progress; retry when it has finished.")
}
