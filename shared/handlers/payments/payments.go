// Package payments serves POST /v1/invoices/{id}/pay: it charges an open invoice's amount due to one of
// its customer's card tokens, exactly once whatever the retries, races and crashes. It is the only code
// that decrypts a card number (through vault.Reveal, with a Detokenize audit record each time), and it
// holds the number only for the processor call, then zeroes it.
//
// A payment is an attempt (pay_<id>) that first claims the invoice, then charges with its own id as the
// processor's idempotency key, then settles the invoice and the attempt with the request's audit record
// in one transaction. An attempt whose outcome could not be stored (a crash, a DynamoDB fault) keeps its
// claim; the next pay request after the claim's lease recovers it: it asks the processor again with the
// same key, which answers with the first result and charges nothing new, and settles that. The
// function cannot tell an attempt interrupted after its charge from one interrupted just before it, so
// recovery charges the latter: the invoice's payment was asked for with that card, and the key still
// keeps it to one charge. An attempt whose token was deleted meanwhile cannot be asked about and is left
// held for an operator (fail closed). The package doc of billingdb lists the items and conditions.
package payments

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Audit resource types and the event of a recovered attempt that was declined.
const (
	resInvoice = "vaultbill::invoice"
	resPayment = "vaultbill::payment"
	// RecoverEvent is the audit eventName of settling an earlier, interrupted attempt as declined
	// before the request goes on with its own attempt.
	RecoverEvent = "RecoverPayment"
	// Events of the writes that hold and release an invoice for an attempt; each commits with its record.
	ClaimEvent    = "ClaimInvoice"
	TakeOverEvent = "TakeOverPaymentClaim"
	ExpireEvent   = "ExpirePaymentClaim"
	AbandonEvent  = "AbandonPayment"
)

// DefaultLease is how long a claim protects an attempt in flight before another request may recover
// it. It must exceed the payments function's timeout, so that a live attempt is never taken over; the
// processor's idempotency key keeps even that case from charging twice.
const DefaultLease = 2 * time.Minute

// maxAttempts bounds the re-reads after a lost race on the invoice.
const maxAttempts = 10

// Revealer decrypts a token's card for a charge; *vault.Vault satisfies it.
type Revealer interface {
	Reveal(ctx context.Context, r vault.RevealRequest) (card.Card, error)
}

// CardAttempts counts and limits card attempts; *ratelimit.Limiter satisfies it.
type CardAttempts interface {
	Attempt(ctx context.Context, principal, customer string) error
}

// Deps is what the route is built from.
type Deps struct {
	Store     *billingdb.Store
	Vault     Revealer
	Processor processor.Processor
	// Attempts limits pays per principal and per customer.
	Attempts CardAttempts
}

// Handlers serves the pay route.
type Handlers struct {
	Deps
	// Now, NewID and Lease are the clock, the id source and the claim lease (replaced in tests).
	Clock clock.Func
	NewID func(prefix string) string
	Lease time.Duration
}

// PayRequest is the body of POST /v1/invoices/{id}/pay.
type PayRequest struct {
	Token string `json:"token"`
}

// PayResponse is the answer of a successful payment.
type PayResponse struct {
	Invoice *billing.Invoice `json:"invoice"`
	Payment *billing.Payment `json:"payment"`
}

// Routes adds the pay route to svc. Its own writes go through svc.DB, the client of the runtime.
func Routes(svc *endpoint.Service, d Deps) *Handlers {
	if d.Attempts == nil {
		panic("payments: no card-attempt limiter") // a wiring bug, found at cold start
	}
	h := &Handlers{Deps: d, NewID: billing.NewID, Lease: DefaultLease}
	svc.Handle("PayInvoice", h.pay)
	svc.Handle("PayHostedInvoice", h.pay)
	return h
}

// attemptEvent is the audit record of event naming the invoice and the attempt: a claim, a take-over,
// an expiry, an abandon or a recovered decline commits with it (endpoint.Call.TransactAudited), never
// without.
func attemptEvent(c *endpoint.Call, event, invoiceID, paymentID string) audit.Record {
	return c.AuditEvent(event, false, audit.Resource{Type: resInvoice, ID: invoiceID}, audit.Resource{Type: resPayment, ID: paymentID})
}

func (h *Handlers) pay(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	var req PayRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	if req.Token == "" {
		return nil, problem.Invalid(problem.FieldError{Field: "token", Message: "is required"})
	}
	if !ids.Valid(ids.Token, req.Token) { // the decoder refuses these; kept so no malformed id reaches a key
		return nil, problem.New(problem.NotFound, "No such token.")
	}
	return endpoint.Retry(ctx, maxAttempts, "The invoice is being changed by other requests; retry shortly.", func(attempt int) (*endpoint.Result, error) {
		inv, err := h.Store.Get(ctx, c.PathParam("id"))
		if err != nil {
			return nil, translate(err)
		}
		if !c.Principal.CanAccess(auth.PayInvoices, inv.CustomerID) {
			return nil, problem.New(problem.NotFound, "No such invoice.")
		}
		c.Touch(resInvoice, inv.ID)
		if attempt == 0 {
			// Counted once the invoice names its customer, before any card is asked about.
			if err := h.Attempts.Attempt(ctx, c.Principal.ID, inv.CustomerID); err != nil {
				return nil, err
			}
		}
		if inv.ClaimPaymentID != "" && inv.Status == billing.Open {
			if h.Clock.Now().UnixMilli() < inv.ClaimUntil {
				return nil, billing.PaymentInProgress()
			}
			return h.recover(ctx, c, inv)
		}
		return h.start(ctx, c, inv, req.Token)
	})
}

// start claims an invoice for a new attempt with token and charges it.
func (h *Handlers) start(ctx context.Context, c *endpoint.Call, inv *billing.Invoice, token string) (*endpoint.Result, error) {
	if err := inv.Payable(); err != nil {
		return nil, err
	}
	now := h.Clock.Now()
	p := &billing.Payment{
		ID: h.NewID(billing.PaymentPrefix), Object: billing.ObjectPayment, InvoiceID: inv.ID,
		CustomerID: inv.CustomerID, TokenID: token, Status: billing.PaymentProcessing,
		Amount: inv.AmountDue, Currency: inv.Currency,
		CreatedAt: billing.FormatTime(now), UpdatedAt: billing.FormatTime(now),
	}
	until := now.Add(h.Lease)
	items, err := h.Store.ClaimItems(inv, p, until)
	if err != nil {
		return nil, err
	}
	if err := c.TransactAudited(ctx, attemptEvent(c, ClaimEvent, inv.ID, p.ID), items...); err != nil {
		if billingdb.Contended(err, 1) {
			return nil, endpoint.ErrRetry // re-read: someone claimed, paid or changed it first
		}
		return nil, translate(err)
	}
	inv.Version++
	inv.ClaimPaymentID, inv.ClaimUntil = p.ID, until.UnixMilli()
	c.Touch(resPayment, p.ID)
	return h.charge(ctx, c, inv, p, false)
}

// recover takes over the stale claim of an interrupted attempt and finishes that attempt: the processor
// is asked again with the attempt's own idempotency key, so a charge that went through is reported, not
// repeated. A recovered decline frees the invoice and the request goes on with its own attempt
// (endpoint.ErrRetry); a recovered success answers the request.
func (h *Handlers) recover(ctx context.Context, c *endpoint.Call, inv *billing.Invoice) (*endpoint.Result, error) {
	p, err := h.Store.GetPayment(ctx, inv.ClaimPaymentID)
	if err != nil {
		return nil, translate(err)
	}
	if p == nil || p.Status != billing.PaymentProcessing || p.InvoiceID != inv.ID {
		// The invoice and the attempt are two reads: another request may have recovered and settled
		// the attempt in between. The invoice then no longer holds that claim at the version read, and
		// is read again.
		now, err := h.Store.Get(ctx, inv.ID)
		if err != nil {
			return nil, translate(err)
		}
		if now.Version != inv.Version || now.ClaimPaymentID != inv.ClaimPaymentID {
			return nil, endpoint.ErrRetry
		}
		// Claims and outcomes are written in the same transactions; an invoice that still claims a
		// settled or missing attempt was edited by hand. Refuse rather than guess whether a card was
		// charged.
		return nil, errors.New("invoice " + inv.ID + " is claimed by payment " + inv.ClaimPaymentID + ", which is not a processing attempt of it")
	}
	until := h.Clock.Now().Add(h.Lease)
	if err := c.TransactAudited(ctx, attemptEvent(c, TakeOverEvent, inv.ID, p.ID), h.Store.TakeOverItem(inv, until)); err != nil {
		if billingdb.Contended(err, 1) {
			return nil, endpoint.ErrRetry // another request is recovering it, or it was settled
		}
		return nil, translate(err)
	}
	inv.Version++
	inv.ClaimUntil = until.UnixMilli()
	c.Touch(resPayment, p.ID)
	c.Log().Info("recovering an interrupted payment attempt", "invoice_id", inv.ID, "payment_id", p.ID)
	return h.charge(ctx, c, inv, p, true)
}

// charge decrypts the attempt's card, charges it with the attempt's id as idempotency key, zeroes the
// number and settles the outcome. inv holds p's claim.
func (h *Handlers) charge(ctx context.Context, c *endpoint.Call, inv *billing.Invoice, p *billing.Payment, recovering bool) (*endpoint.Result, error) {
	cd, err := h.Vault.Reveal(ctx, vault.RevealRequest{
		TokenID: p.TokenID, CustomerID: inv.CustomerID, Record: c.AuditEvent(vault.DetokenizeEvent, true),
	})
	if err != nil {
		return nil, h.notCharged(ctx, c, inv, p, recovering, err)
	}
	defer cd.Zero() // also if the processor panics
	res, err := h.Processor.Charge(ctx, processor.Charge{
		IdempotencyKey: p.ID, Amount: p.Amount, Currency: string(p.Currency), Card: cd,
	})
	cd.Zero() // the number is not needed past the processor call: overwrite it before anything else
	if err != nil {
		// The outcome is unknown. The claim stays; the next request asks again with the same key.
		h.expireClaim(ctx, c, inv)
		return nil, problem.Wrap(problem.ServiceUnavailable, err,
			"The card processor did not answer. Retry the request; the card will not be charged twice.")
	}
	return h.settle(ctx, c, inv, p, res, recovering)
}

// notCharged handles a card that could not be decrypted: the processor was never asked. A new attempt
// is abandoned (claim released, attempt deleted) so the invoice stays open and nothing is charged. A
// recovered attempt cannot be confirmed without its card, so its claim stays and the request fails
// closed: the attempt may have been charged before it was interrupted.
func (h *Handlers) notCharged(ctx context.Context, c *endpoint.Call, inv *billing.Invoice, p *billing.Payment, recovering bool, cause error) error {
	if recovering {
		h.expireClaim(ctx, c, inv)
		if problem.CodeOf(cause) == problem.NotFound {
			return problem.Wrap(problem.InvalidState, cause, "An earlier payment of this invoice was interrupted and its card token no longer exists, so its outcome cannot be confirmed; the invoice needs an operator.")
		}
		return translate(cause)
	}
	if err := c.TransactAudited(ctx, attemptEvent(c, AbandonEvent, inv.ID, p.ID), h.Store.ReleaseItem(inv), h.Store.AbandonItem(p)); err != nil {
		// The claim stays until its lease ends; the next request then recovers the attempt.
		c.Log().Error("release payment claim after a failed decryption", "invoice_id", inv.ID, "payment_id", p.ID, "error", err)
	}
	return translate(cause)
}

// settle stores the processor's answer. A success commits the paid invoice, the succeeded payment, the
// audit record and the idempotent outcome together; a decline commits the failed payment and the
// released claim with the request's 402.
func (h *Handlers) settle(ctx context.Context, c *endpoint.Call, inv *billing.Invoice, p *billing.Payment, res processor.Result, recovering bool) (*endpoint.Result, error) {
	now := h.Clock.Now()
	ts := billing.FormatTime(now)
	p.ChargeID, p.UpdatedAt = res.ChargeID, ts
	if res.Outcome == processor.Succeeded {
		p.Status = billing.PaymentSucceeded
		outcome, err := h.Store.PaymentOutcomeItem(p)
		if err != nil {
			return nil, err
		}
		paid := *inv
		if err := paid.Apply(billing.Pay, now); err != nil {
			return nil, err
		}
		paid.PaymentID, paid.Version = &p.ID, inv.Version+1
		paid.ClaimPaymentID, paid.ClaimUntil = "", 0
		r, err := c.Commit(ctx, http.StatusOK, PayResponse{Invoice: &paid, Payment: p}, h.Store.MarkPaidItem(inv, p.ID, ts), outcome)
		if err != nil {
			return nil, h.settleFailed(ctx, c, inv, p, err)
		}
		return r, nil
	}

	p.Status, p.FailureCode = billing.PaymentFailed, res.DeclineReason
	if p.FailureCode == "" {
		p.FailureCode = processor.ReasonCardDeclined
	}
	outcome, err := h.Store.PaymentOutcomeItem(p)
	if err != nil {
		return nil, err
	}
	items := []types.TransactWriteItem{h.Store.ReleaseItem(inv), outcome}
	if recovering {
		// The interrupted attempt was declined: store that with its own record, then let this request
		// make its own attempt on the now unclaimed invoice.
		rec := attemptEvent(c, RecoverEvent, inv.ID, p.ID)
		rec.ErrorCode = string(problem.CardDeclined)
		if err := c.TransactAudited(ctx, rec, items...); err != nil {
			return nil, h.settleFailed(ctx, c, inv, p, err)
		}
		return nil, endpoint.ErrRetry
	}
	declined := &problem.Error{
		Code: problem.CardDeclined, Reason: p.FailureCode,
		Detail: "The card was declined (" + p.FailureCode + "); payment " + p.ID + " is recorded as failed and the invoice is still open.",
	}
	if err := c.CommitRefusal(ctx, declined, items...); err != nil {
		return nil, h.settleFailed(ctx, c, inv, p, err)
	}
	return nil, declined
}

// settleFailed handles an outcome that could not be stored. If this request lost its claim (its lease
// ran out and another request recovered the attempt), the invoice is read again and a payment settled
// by the other request is reported. Otherwise the claim stays, its lease is cut short so the client's
// retry recovers the attempt at once, and the request fails: the retry charges nothing new.
func (h *Handlers) settleFailed(ctx context.Context, c *endpoint.Call, inv *billing.Invoice, p *billing.Payment, err error) error {
	if billingdb.Failed(err, 0, billingdb.ReasonConditionFailed) {
		return problem.Wrap(problem.ServiceUnavailable, err, "The payment was settled by another request. Retry the request to see the result; the card will not be charged twice.")
	}
	h.expireClaim(ctx, c, inv)
	return problem.Wrap(problem.ServiceUnavailable, err, "The payment could not be recorded. Retry the request; the card will not be charged twice.")
}

// expireClaim ends the lease of the claim this request holds, best effort: if it fails, the lease ends
// on its own.
func (h *Handlers) expireClaim(ctx context.Context, c *endpoint.Call, inv *billing.Invoice) {
	if err := c.TransactAudited(context.WithoutCancel(ctx), attemptEvent(c, ExpireEvent, inv.ID, inv.ClaimPaymentID), h.Store.ExpireClaimItem(inv, h.Clock.Now())); err != nil {
		c.Log().Error("expire payment claim; it ends with its lease", "invoice_id", inv.ID, "payment_id", inv.ClaimPaymentID, "error", err)
	}
}

// translate maps DynamoDB faults to service_unavailable (503): nothing was stored and a retry may succeed.
func translate(err error) error {
	return billingdb.Unavailable(err, "The billing store is unavailable; nothing was charged. Retry shortly.")
}
