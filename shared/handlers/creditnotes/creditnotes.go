// Package creditnotes serves the credit note routes: POST /v1/invoices/{id}/credit-notes, which credits
// an open invoice or refunds a paid one through the card processor, and the credit note reads.
//
// A refund names the payment's charge, never a card, so this function has no access to the vault.
// Refunds of an invoice never exceed its payment, whatever the retries, races and crashes: a refund
// first reserves its amount on the invoice together with its pending credit note, then asks the
// processor with the credit note's id as the idempotency key, then issues the note (numbered) with the
// request's audit record in one transaction. A pending note whose outcome could not be stored is
// recovered by the next credit note request on the invoice after its lease: the processor is asked
// again with the same key, answers with the first result and refunds nothing new. The package doc of
// billingdb lists the items and conditions.
package creditnotes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/idempotency"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Audit resource types and the event of a recovered refund.
const (
	resInvoice    = "vaultbill::invoice"
	resPayment    = "vaultbill::payment"
	resCreditNote = "vaultbill::credit_note"
	// RecoverEvent is the audit eventName of settling an earlier, interrupted refund of another request
	// before the request goes on with its own.
	RecoverEvent = "RecoverRefund"
)

// DefaultLease is how long a pending refund belongs to the request that reserved it. It must exceed
// the function's timeout, so that a live refund is never taken over; the processor's idempotency key
// keeps even that case from refunding twice. The payments function's claim is a lease of the same
// length, but it holds the invoice itself (one attempt at a time); a refund's lease is on its own
// pending note, since several refunds of one invoice may run at once, so the two are kept apart.
const DefaultLease = 2 * time.Minute

// maxAttempts bounds the re-reads after lost races: on the invoice (concurrent refunds reserve on it)
// and on the number counter (shared by every credit note).
const maxAttempts = 40

// Refunder is what the function asks of the card processor; processor.Processor satisfies it.
type Refunder interface {
	Refund(ctx context.Context, r processor.Refund) (processor.RefundResult, error)
}

// Deps is what the routes are built from.
type Deps struct {
	Store     *billingdb.Store
	Processor Refunder
}

// Handlers serves the credit note routes.
type Handlers struct {
	Deps
	// Now, NewID and Lease are the clock, the id source and the refund lease (replaced in tests).
	Clock clock.Func
	NewID func(prefix string) string
	Lease time.Duration
}

// Routes adds the credit note routes to svc. Its own writes go through svc.DB, the runtime's client.
func Routes(svc *endpoint.Service, d Deps) *Handlers {
	h := &Handlers{Deps: d, NewID: billing.NewID, Lease: DefaultLease}
	svc.Handle("CreateCreditNote", h.create)
	svc.Handle("GetCreditNote", h.get)
	svc.Handle("ListCreditNotes", h.list)
	return h
}

// request is one create request: its validated body and the ids it keeps across retries.
type request struct {
	in     billing.CreditNoteInput
	id     string // the credit note's id, the same in every round of the loop
	key    string // the request key (principal + Idempotency-Key), "" without a key
	charge string // the charge of the invoice's payment, once read
	looked bool   // whether an earlier refund of this request was looked for
}

func (h *Handlers) create(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	r := &request{id: h.NewID(billing.CreditNotePrefix), key: requestKey(c)}
	if err := c.Decode(&r.in); err != nil {
		return nil, err
	}
	if err := r.in.Validate(); err != nil {
		return nil, err
	}
	return endpoint.Retry(ctx, maxAttempts, "The invoice is being changed by other requests; retry shortly.", func(int) (*endpoint.Result, error) {
		inv, err := h.Store.Get(ctx, c.PathParam("id"))
		if err != nil {
			return nil, translate(err)
		}
		if !c.Principal.CanAccess(auth.CreateCreditNotes, inv.CustomerID) {
			return nil, problem.New(problem.NotFound, "No such invoice.")
		}
		c.Touch(resInvoice, inv.ID)
		typ, err := inv.CreditNoteTypeOf()
		if err != nil {
			return nil, err
		}
		// The route admits whoever may credit or refund; the invoice's status says which this is.
		action := auth.IssueCreditNotes
		if typ == billing.PostPayment {
			action = auth.RefundInvoices
		}
		if err := c.Principal.Authorize(action); err != nil {
			return nil, err
		}
		if typ == billing.PrePayment {
			return h.credit(ctx, c, inv, r)
		}
		res, err := h.recoverPending(ctx, c, inv, r)
		if res == nil && err == nil {
			res, err = h.earlier(ctx, c, inv, r)
		}
		if res == nil && err == nil {
			res, err = h.reserve(ctx, c, inv, r)
		}
		return res, err
	})
}

// credit issues a pre-payment credit note: the invoice's amount due falls, and an invoice with nothing
// left due is paid.
func (h *Handlers) credit(ctx context.Context, c *endpoint.Call, inv *billing.Invoice, r *request) (*endpoint.Result, error) {
	now := h.Clock.Now()
	prev := inv.Version
	if err := inv.ApplyCredit(*r.in.Amount, now); err != nil {
		return nil, err
	}
	inv.Version = prev + 1
	last, err := h.Store.LastCreditNoteNumber(ctx)
	if err != nil {
		return nil, translate(err)
	}
	cn := h.note(inv, r, billing.PrePayment, now)
	cn.Number, cn.Status = billing.FormatCreditNoteNumber(last+1), billing.CreditNoteIssued
	items, err := h.Store.IssuePrePaymentItems(inv, prev, cn, last)
	if err != nil {
		return nil, err
	}
	c.Touch(resCreditNote, cn.ID)
	res, err := c.Commit(ctx, http.StatusCreated, cn, items...)
	if err != nil && billingdb.Contended(err, 2) {
		return nil, endpoint.ErrRetry // the counter or the invoice moved on: read both again
	}
	return res, translate(err)
}

func (h *Handlers) note(inv *billing.Invoice, r *request, t billing.CreditNoteType, now time.Time) *billing.CreditNote {
	return &billing.CreditNote{
		ID: r.id, Object: billing.ObjectCreditNote, InvoiceID: inv.ID, CustomerID: inv.CustomerID,
		Currency: inv.Currency, Amount: *r.in.Amount, Reason: billing.Reason(r.in.Reason), Memo: r.in.Memo,
		Type: t, CreatedAt: billing.FormatTime(now),
	}
}

// earlier answers the client's retry of a refund whose first request failed after the processor
// refunded (the retry carries the same Idempotency-Key): if the note that request created was issued
// since (recovered by another request), the retry gets it rather than refunding again.
func (h *Handlers) earlier(ctx context.Context, c *endpoint.Call, inv *billing.Invoice, r *request) (*endpoint.Result, error) {
	if r.key == "" || r.looked {
		return nil, nil
	}
	r.looked = true
	cn, err := h.Store.CreditNoteOfRequest(ctx, inv.ID, r.key)
	if err != nil || cn == nil {
		return nil, translate(err)
	}
	if created, err := time.Parse(time.RFC3339, cn.CreatedAt); err == nil && h.Clock.Now().Sub(created) > idempotency.Window {
		return nil, nil // a key reused after its window is a new request, as the runtime treats it
	}
	if cn.Status != billing.CreditNoteIssued {
		// Still pending under a live lease (its request could not cut it short): its outcome is unknown,
		// and the first attempt of this request still holds it. That is the API's "the first request is
		// still running" (409 idempotency_key_in_use): retried after the lease, this request recovers it.
		return nil, problem.New(problem.IdempotencyKeyInUse, "A refund of this request is in progress; retry after a while.")
	}
	c.Touch(resCreditNote, cn.ID)
	c.Touch(resPayment, cn.PaymentID)
	res, err := c.Commit(ctx, http.StatusCreated, cn)
	return res, translate(err)
}

// reserve starts a refund: it reserves the amount on the paid invoice with the pending credit note,
// then asks the processor.
func (h *Handlers) reserve(ctx context.Context, c *endpoint.Call, inv *billing.Invoice, r *request) (*endpoint.Result, error) {
	if err := inv.CreditFits(billing.PostPayment, *r.in.Amount); err != nil {
		return nil, err
	}
	if r.charge == "" {
		p, err := h.Store.GetPayment(ctx, *inv.PaymentID)
		if err != nil {
			return nil, translate(err)
		}
		if p == nil || p.Status != billing.PaymentSucceeded || p.ChargeID == "" {
			// Invoices are paid in the same transaction that stores their payment's success.
			return nil, errors.New("invoice " + inv.ID + " is paid by payment " + *inv.PaymentID + ", which is not a succeeded charge")
		}
		r.charge = p.ChargeID
	}
	now := h.Clock.Now()
	cn := h.note(inv, r, billing.PostPayment, now)
	cn.Status, cn.PaymentID = billing.CreditNotePending, *inv.PaymentID
	cn.ClaimUntil, cn.RequestKey = now.Add(h.Lease).UnixMilli(), r.key
	items, err := h.Store.ReserveRefundItems(inv, cn)
	if err != nil {
		return nil, err
	}
	if err := c.Transact(ctx, items...); err != nil {
		if billingdb.Contended(err, 1) {
			return nil, endpoint.ErrRetry // another refund reserved first: read what is left again
		}
		return nil, translate(err)
	}
	c.Touch(resCreditNote, cn.ID)
	c.Touch(resPayment, cn.PaymentID)
	return h.refund(ctx, c, cn, r.charge, false)
}

// recoverPending finishes the pending refunds of inv whose lease has ended: each was reserved by a
// request that died, or could not store the processor's answer. The processor is asked again with the
// note's own key, so a refund that went through is recorded, not repeated. A note of this very request
// (the client's retry with the same Idempotency-Key) answers it; others are recorded with their own
// audit record, and the request then reads the invoice again (endpoint.ErrRetry). Nothing to recover: nil, nil.
func (h *Handlers) recoverPending(ctx context.Context, c *endpoint.Call, inv *billing.Invoice, r *request) (*endpoint.Result, error) {
	recovered := false
	for _, id := range inv.PendingRefunds {
		cn, err := h.Store.GetCreditNote(ctx, id)
		if problem.CodeOf(err) == problem.NotFound {
			continue // settled since the invoice was read
		}
		if err != nil {
			return nil, translate(err)
		}
		if cn.Status != billing.CreditNotePending || h.Clock.Now().UnixMilli() < cn.ClaimUntil {
			continue // settled, or still in the hands of its request
		}
		until := h.Clock.Now().Add(h.Lease)
		if err := c.Transact(ctx, h.Store.RenewRefundLeaseItem(cn, cn.ClaimUntil, until)); err != nil {
			if billingdb.Contended(err, 1) {
				recovered = true // another request took it over first
				continue
			}
			return nil, translate(err)
		}
		cn.ClaimUntil = until.UnixMilli()
		p, err := h.Store.GetPayment(ctx, cn.PaymentID)
		if err != nil {
			h.expire(ctx, c, cn)
			return nil, translate(err)
		}
		if p == nil || p.ChargeID == "" {
			return nil, errors.New("credit note " + cn.ID + " refunds payment " + cn.PaymentID + ", which has no charge")
		}
		mine := r.key != "" && cn.RequestKey == r.key
		c.Log().Info("recovering an interrupted refund", "invoice_id", inv.ID, "credit_note_id", cn.ID, "own", mine)
		if mine {
			c.Touch(resCreditNote, cn.ID)
			c.Touch(resPayment, cn.PaymentID)
			return h.refund(ctx, c, cn, p.ChargeID, false)
		}
		if _, err := h.refund(ctx, c, cn, p.ChargeID, true); err != nil {
			return nil, err
		}
		recovered = true
	}
	if recovered {
		return nil, endpoint.ErrRetry
	}
	return nil, nil
}

// refund asks the processor for the refund of pending cn (with cn's id as idempotency key) and stores
// the answer. For another request's note (other) the outcome is stored with its own audit record and
// refund returns nil, nil; otherwise it answers this request.
func (h *Handlers) refund(ctx context.Context, c *endpoint.Call, cn *billing.CreditNote, chargeID string, other bool) (*endpoint.Result, error) {
	res, err := h.Processor.Refund(ctx, processor.Refund{
		IdempotencyKey: cn.ID, ChargeID: chargeID, Amount: cn.Amount, Currency: string(cn.Currency),
	})
	if err != nil {
		// The outcome is unknown. The note stays pending; the next request asks again with the same key.
		h.expire(ctx, c, cn)
		return nil, problem.Wrap(problem.ServiceUnavailable, err,
			"The card processor did not answer. Retry the request with the same Idempotency-Key; the refund will not be made twice.")
	}
	if res.Outcome != processor.Succeeded {
		return h.refused(ctx, c, cn, res, other)
	}
	return h.issue(ctx, c, cn, res, other)
}

// issue stores an accepted refund: the credit note issued with the next number, the invoice's and the
// payment's amount_refunded raised, with the audit record, in one transaction (retried while other
// credit notes take the number first).
func (h *Handlers) issue(ctx context.Context, c *endpoint.Call, pending *billing.CreditNote, res processor.RefundResult, other bool) (*endpoint.Result, error) {
	cn := *pending
	cn.Status, cn.ClaimUntil = billing.CreditNoteIssued, 0
	cn.Refund = &billing.Refund{
		ID: h.NewID(billing.RefundPrefix), PaymentID: cn.PaymentID, Amount: cn.Amount,
		Status: billing.RefundSucceeded, ProcessorRefundID: res.RefundID,
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		last, err := h.Store.LastCreditNoteNumber(ctx)
		if err != nil {
			return nil, h.notStored(ctx, c, pending, err)
		}
		cn.Number = billing.FormatCreditNoteNumber(last + 1)
		items, err := h.Store.IssueRefundItems(&cn, pending.ClaimUntil, last, billing.FormatTime(h.Clock.Now()))
		if err != nil {
			return nil, err
		}
		var out *endpoint.Result
		if other {
			err = h.recordRecovery(ctx, c, &cn, "", items)
		} else {
			out, err = c.Commit(ctx, http.StatusCreated, &cn, items...)
		}
		if err == nil {
			return out, nil
		}
		if billingdb.Failed(err, 1, billingdb.ReasonConditionFailed) || billingdb.Failed(err, 3, billingdb.ReasonConditionFailed) {
			if other {
				return nil, nil // a third request recovered it first: nothing left to do here
			}
			return nil, problem.Wrap(problem.ServiceUnavailable, err, "The refund was recorded by another request. Retry the request to see the result; it will not be made twice.")
		}
		if !billingdb.Contended(err, 1) {
			return nil, h.notStored(ctx, c, pending, err)
		}
		endpoint.Backoff(ctx, attempt) // another credit note took the number: read the counter again
	}
	return nil, h.notStored(ctx, c, pending, errors.New("credit note counter contended"))
}

// refused stores a refund the processor refused: the reservation is released and the pending note
// deleted, so no credit note is issued; the request answers 402 refund_failed.
func (h *Handlers) refused(ctx context.Context, c *endpoint.Call, cn *billing.CreditNote, res processor.RefundResult, other bool) (*endpoint.Result, error) {
	items := h.Store.ReleaseRefundItems(cn, cn.ClaimUntil)
	reason := res.FailureReason
	if reason == "" {
		reason = string(problem.RefundFailed)
	}
	if other {
		err := h.recordRecovery(ctx, c, cn, problem.RefundFailed, items)
		if err != nil && !billingdb.Failed(err, 0, billingdb.ReasonConditionFailed) && !billingdb.Failed(err, 1, billingdb.ReasonConditionFailed) {
			return nil, h.notStored(ctx, c, cn, err)
		}
		return nil, nil // stored, or a third request stored it first
	}
	refusal := &problem.Error{
		Code: problem.RefundFailed, Reason: reason,
		Detail: "The card processor refused the refund (" + reason + "); no credit note was issued and the invoice is unchanged.",
	}
	if err := c.CommitRefusal(ctx, refusal, items...); err != nil {
		return nil, h.notStored(ctx, c, cn, err)
	}
	return nil, refusal
}

// recordRecovery commits the outcome of another request's refund with a RecoverRefund audit record.
func (h *Handlers) recordRecovery(ctx context.Context, c *endpoint.Call, cn *billing.CreditNote, code problem.Code, items []types.TransactWriteItem) error {
	rec := c.AuditEvent(RecoverEvent, false,
		audit.Resource{Type: resInvoice, ID: cn.InvoiceID}, audit.Resource{Type: resCreditNote, ID: cn.ID},
		audit.Resource{Type: resPayment, ID: cn.PaymentID})
	rec.ErrorCode = string(code)
	return c.TransactAudited(ctx, rec, items...)
}

// notStored handles an outcome that could not be stored: the note stays pending, its lease is cut short
// so that the client's retry recovers it at once, and the request fails; the retry refunds nothing new.
func (h *Handlers) notStored(ctx context.Context, c *endpoint.Call, cn *billing.CreditNote, err error) error {
	h.expire(ctx, c, cn)
	return problem.Wrap(problem.ServiceUnavailable, err, "The refund could not be recorded. Retry the request with the same Idempotency-Key; it will not be made twice.")
}

// expire ends the lease of pending cn that this request holds, best effort: if it fails, the lease
// ends on its own.
func (h *Handlers) expire(ctx context.Context, c *endpoint.Call, cn *billing.CreditNote) {
	now := h.Clock.Now()
	if err := c.Transact(context.WithoutCancel(ctx), h.Store.RenewRefundLeaseItem(cn, cn.ClaimUntil, now)); err != nil {
		c.Log().Error("expire refund lease; it ends on its own", "invoice_id", cn.InvoiceID, "credit_note_id", cn.ID, "error", err)
		return
	}
	cn.ClaimUntil = now.UnixMilli()
}

// requestKey identifies a request across the client's retries: its principal and Idempotency-Key,
// hashed so that neither is stored as it is. Without a key, retries cannot be told apart.
func requestKey(c *endpoint.Call) string {
	key := httpapi.Header(c.Request, "Idempotency-Key")
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(c.Principal.ID + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// --- reads ---

func (h *Handlers) get(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	cn, err := h.Store.GetCreditNote(ctx, c.PathParam("id"))
	if err != nil {
		return nil, translate(err)
	}
	// A pending note is not a credit note yet: it may still be refused.
	if cn.Status != billing.CreditNoteIssued || !c.Principal.CanAccess(auth.ReadCreditNotes, cn.CustomerID) {
		return nil, problem.New(problem.NotFound, "No such credit note.")
	}
	c.Touch(resCreditNote, cn.ID)
	return &endpoint.Result{Status: http.StatusOK, Body: cn}, nil
}

func (h *Handlers) list(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	f, page, err := billingdb.ParseOwnerList(c.Query, ownOnly(c, auth.ReadCreditNotes), billing.CreditNotePrefix)
	if err != nil {
		return nil, err
	}
	list, err := h.Store.ListCreditNotes(ctx, f, page)
	if err != nil {
		return nil, translate(err)
	}
	return &endpoint.Result{Status: http.StatusOK, Body: list}, nil
}

// ownOnly is the caller's customer when it may see only its own objects with action, else "".
func ownOnly(c *endpoint.Call, action auth.Action) string {
	if c.Principal.OwnOnly(action) {
		return c.Principal.CustomerID
	}
	return ""
}

// translate maps DynamoDB faults to service_unavailable (503): nothing was stored and a retry may succeed.
func translate(err error) error {
	return billingdb.Unavailable(err, "The billing store is unavailable; nothing was changed. Retry shortly.")
}
