package creditnotes_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// totals are the amounts of an invoice a user checks after each step.
type totals struct {
	Status                                         billing.Status
	Due, Credited, Paid, Refunded, PaymentRefunded int64
}

func (cs *cnStack) totals(invoiceID, paymentID string) totals {
	cs.t.Helper()
	var inv billing.Invoice
	cs.billing.Must(200, "GET", "/v1/invoices/"+invoiceID, "", &inv)
	got := totals{Status: inv.Status, Due: inv.AmountDue, Credited: inv.AmountCredited, Paid: inv.AmountPaid, Refunded: inv.AmountRefunded}
	if paymentID != "" {
		var p billing.Payment
		cs.billing.Must(200, "GET", "/v1/payments/"+paymentID, "", &p)
		got.PaymentRefunded = p.AmountRefunded
	}
	return got
}

// TestLifecycle credits an open invoice, pays the rest, refunds part of the payment, then the rest,
// and checks the invoice's and the payment's totals, the notes' numbers and types, and the sandbox's
// refunds at each step.
func TestLifecycle(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv := cs.billing.Open(cus)

	// 1. A pre-payment credit note (billing) lowers what is due.
	var pre billing.CreditNote
	cs.billing.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", `{"amount":758,"reason":"order_change","memo":"One seat fewer"}`, &pre)
	if pre.Type != billing.PrePayment || pre.Refund != nil || pre.Number != "CN-000001" || pre.Status != billing.CreditNoteIssued ||
		!strings.HasPrefix(pre.ID, "cn_") || pre.Amount != 758 || pre.Memo == nil || *pre.Memo != "One seat fewer" || pre.Currency != "EUR" || pre.CustomerID != cus {
		t.Errorf("pre-payment credit note: %+v", pre)
	}
	if got := cs.totals(inv.ID, ""); got != (totals{Status: billing.Open, Due: 4000, Credited: 758}) {
		t.Errorf("after the credit: %+v", got)
	}

	// 2. The payment charges what is left.
	var paid payments.PayResponse
	cs.pay.Must(200, "POST", "/v1/invoices/"+inv.ID+"/pay", fmt.Sprintf(`{"token":%q}`, cs.pay.Tokenize(cus, processor.TestVisa)), &paid)
	if paid.Payment.Amount != 4000 || paid.Invoice.AmountPaid != 4000 {
		t.Errorf("pay after a credit: %+v %+v", paid.Invoice, paid.Payment)
	}
	pay := paid.Payment.ID
	if got := cs.totals(inv.ID, pay); got != (totals{Status: billing.Paid, Credited: 758, Paid: 4000}) {
		t.Errorf("after the payment: %+v", got)
	}

	// 3. A post-payment credit note (payments) refunds part of it.
	var part billing.CreditNote
	cs.pay.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", creditBody(1500, "product_unsatisfactory"), &part)
	if part.Type != billing.PostPayment || part.Number != "CN-000002" || part.Refund == nil || part.Memo != nil ||
		!strings.HasPrefix(part.Refund.ID, "re_") || part.Refund.PaymentID != pay || part.Refund.Amount != 1500 || part.Refund.Status != billing.RefundSucceeded {
		t.Errorf("refund: %+v %+v", part, part.Refund)
	}
	if got := cs.totals(inv.ID, pay); got != (totals{Status: billing.Paid, Credited: 758, Paid: 4000, Refunded: 1500, PaymentRefunded: 1500}) {
		t.Errorf("after a partial refund: %+v", got)
	}

	// 4. The rest; then nothing is left to refund.
	var rest billing.CreditNote
	cs.admin.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", creditBody(2500, "duplicate"), &rest)
	if rest.Number != "CN-000003" || rest.Refund == nil || rest.Refund.Amount != 2500 {
		t.Errorf("second refund: %+v", rest)
	}
	if got := cs.totals(inv.ID, pay); got != (totals{Status: billing.Paid, Credited: 758, Paid: 4000, Refunded: 4000, PaymentRefunded: 4000}) {
		t.Errorf("after the full refund: %+v", got)
	}
	status, body := credit(cs.pay, inv.ID, 1)
	if p := stacktest.Decode[stacktest.Problem](t, body); status != 422 || p.Code != "validation_failed" || len(p.Errors) == 0 || p.Errors[0].Field != "amount" {
		t.Errorf("refund beyond the payment: %d %s", status, body)
	}
	refunds := cs.sandbox.Refunds()
	if len(refunds) != 2 || refundedSum(refunds) != 4000 || refunds[0].IdempotencyKey != part.ID || refunds[1].IdempotencyKey != rest.ID {
		t.Errorf("sandbox refunds: %+v", refunds)
	}

	// Reads: one note, the invoice's notes newest first, the customer's, the invoice's payments.
	var got billing.CreditNote
	cs.billing.Must(200, "GET", "/v1/credit-notes/"+part.ID, "", &got)
	if got.ID != part.ID || got.Refund == nil || got.Refund.ID != part.Refund.ID || got.Object != billing.ObjectCreditNote {
		t.Errorf("GET credit note: %+v", got)
	}
	var list billingdb.List[billing.CreditNote]
	cs.billing.Must(200, "GET", "/v1/credit-notes?invoice_id="+inv.ID, "", &list)
	if len(list.Data) != 3 || list.Data[0].ID != rest.ID || list.Data[2].ID != pre.ID || list.HasMore {
		t.Errorf("credit notes of the invoice: %+v", list)
	}
	cs.billing.Must(200, "GET", "/v1/credit-notes?customer_id="+cus+"&limit=2", "", &list)
	if len(list.Data) != 2 || !list.HasMore || list.NextCursor == "" {
		t.Fatalf("first page of the customer's credit notes: %+v", list)
	}
	cs.billing.Must(200, "GET", "/v1/credit-notes?customer_id="+cus+"&limit=2&cursor="+list.NextCursor, "", &list)
	if len(list.Data) != 1 || list.Data[0].ID != pre.ID || list.HasMore {
		t.Errorf("second page of the customer's credit notes: %+v", list)
	}
	var pays billingdb.List[billing.Payment]
	cs.billing.Must(200, "GET", "/v1/payments?invoice_id="+inv.ID, "", &pays)
	if len(pays.Data) != 1 || pays.Data[0].ID != pay || pays.Data[0].AmountRefunded != 4000 || pays.Data[0].Object != billing.ObjectPayment {
		t.Errorf("payments of the invoice: %+v", pays)
	}
	cs.billing.Must(200, "GET", "/v1/payments?customer_id="+cus, "", &pays)
	if len(pays.Data) != 1 || pays.Data[0].ID != pay {
		t.Errorf("payments of the customer: %+v", pays)
	}
	// The customer sees its own.
	own := newClient(t, cs.s, "customer", cus)
	own.Must(200, "GET", "/v1/credit-notes", "", &list)
	if len(list.Data) != 3 {
		t.Errorf("the customer's own credit notes: %+v", list)
	}
	own.Must(200, "GET", "/v1/payments/"+pay, "", nil)

	// Every request left an audit record naming what it touched.
	names := map[string]int{}
	for _, rec := range stacktest.AuditRecords(cs.t, cs.s) {
		for _, r := range rec.Resources {
			if r.ID == part.ID {
				names[rec.EventName]++
			}
		}
	}
	if names["CreateCreditNote"] != 1 || names["GetCreditNote"] != 1 {
		t.Errorf("audit records naming the refund: %v", names)
	}
}

// TestCreditToZero: a pre-payment credit note of the whole amount due pays the invoice with no payment;
// nothing can then be refunded or paid.
func TestCreditToZero(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv := cs.billing.Open(cus)
	cs.billing.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", creditBody(4000, "order_change"), nil)
	cs.admin.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", creditBody(758, "order_change"), nil)
	var got billing.Invoice
	cs.billing.Must(200, "GET", "/v1/invoices/"+inv.ID, "", &got)
	if got.Status != billing.Paid || got.AmountDue != 0 || got.AmountCredited != 4758 || got.AmountPaid != 0 || got.PaymentID != nil || got.PaidAt == nil {
		t.Errorf("invoice credited to zero: %+v", got)
	}
	status, body := credit(cs.pay, inv.ID, 1)
	if p := stacktest.Decode[stacktest.Problem](t, body); status != 422 || p.Code != "validation_failed" {
		t.Errorf("refund of an invoice paid by credit notes: %d %s", status, body)
	}
	status, body = cs.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", fmt.Sprintf(`{"token":%q}`, cs.pay.Tokenize(cus, processor.TestVisa)))
	if status != 409 {
		t.Errorf("pay of an invoice credited to zero: %d %s", status, body)
	}
	if n := len(cs.sandbox.Accepted()) + len(cs.sandbox.Refunds()); n != 0 {
		t.Errorf("%d processor operations", n)
	}
}

// TestRefundRefused: the sandbox refuses refunds of 4000000000005126: 402 refund_failed, no credit note
// issued or kept, the invoice and payment unchanged, no number consumed.
func TestRefundRefused(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv, pay := cs.paid(cus, processor.TestRefundFails)
	status, body := credit(cs.pay, inv.ID, 1000, "Idempotency-Key", "refused-1")
	p := stacktest.Decode[stacktest.Problem](t, body)
	if status != 402 || p.Code != "refund_failed" || p.Reason != processor.ReasonRefundRefused {
		t.Fatalf("refund of the refund-failing card: %d %s", status, body)
	}
	// The refusal is the request's settled answer: replayed with the same key, never retried.
	status, again := credit(cs.pay, inv.ID, 1000, "Idempotency-Key", "refused-1")
	if status != 402 || again != body {
		t.Errorf("replay of the refusal: %d %s", status, again)
	}
	if notes := cs.notes(inv.ID); len(notes) != 0 {
		t.Errorf("credit notes kept after a refused refund: %+v", notes)
	}
	stored := stacktest.StoredInvoice(cs.t, cs.s, inv.ID)
	if stored.AmountRefunded != 0 || stored.RefundReserved != 0 || len(stored.PendingRefunds) != 0 {
		t.Errorf("invoice after a refused refund: %+v", stored)
	}
	if got := cs.totals(inv.ID, pay.ID); got.PaymentRefunded != 0 || got.Refunded != 0 {
		t.Errorf("totals after a refused refund: %+v", got)
	}
	if n := len(cs.sandbox.Refunds()); n != 0 {
		t.Errorf("%d refunds accepted", n)
	}
	// The refusal took no number.
	var cn billing.CreditNote
	cs.billing.Must(201, "POST", "/v1/invoices/"+cs.billing.Open(cus).ID+"/credit-notes", creditBody(1, "duplicate"), &cn)
	if cn.Number != "CN-000001" {
		t.Errorf("number after a refused refund: %s", cn.Number)
	}
	var refused int
	for _, rec := range stacktest.AuditRecords(cs.t, cs.s) {
		if rec.EventName == "CreateCreditNote" && rec.ErrorCode == "refund_failed" {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d audit records of the refused refund", refused)
	}
}
