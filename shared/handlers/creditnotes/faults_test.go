package creditnotes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/creditnotes"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestBadInput: refused requests answer their code, refund nothing, store no credit note and leave the
// invoice as it was.
func TestBadInput(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	open := cs.billing.Open(cus)
	paid, _ := cs.paid(cus, processor.TestVisa)
	draft := cs.billing.Draft(cus)
	void := cs.billing.Open(cus)
	cs.billing.Must(200, "POST", "/v1/invoices/"+void.ID+"/void", "", nil)
	uncollectible := cs.billing.Open(cus)
	cs.billing.Must(200, "POST", "/v1/invoices/"+uncollectible.ID+"/mark-uncollectible", "", nil)

	path := "/v1/invoices/" + open.ID + "/credit-notes"
	refund := "/v1/invoices/" + paid.ID + "/credit-notes"
	long := strings.Repeat("é", 501)
	tests := []struct {
		name   string
		c      *client
		path   string
		body   string
		status int
		code   string
		field  string
	}{
		{"missing amount", cs.billing, path, `{"reason":"duplicate"}`, 422, "validation_failed", "amount"},
		{"zero amount", cs.billing, path, creditBody(0, "duplicate"), 422, "validation_failed", "amount"},
		{"negative amount", cs.billing, path, creditBody(-5, "duplicate"), 422, "validation_failed", "amount"},
		{"fractional amount", cs.billing, path, `{"amount":10.5,"reason":"duplicate"}`, 400, "validation_failed", "amount"},
		{"amount as a string", cs.billing, path, `{"amount":"10","reason":"duplicate"}`, 400, "validation_failed", "amount"},
		{"amount beyond int64", cs.billing, path, `{"amount":9223372036854775808,"reason":"duplicate"}`, 400, "validation_failed", "amount"},
		{"amount above the amount due", cs.billing, path, creditBody(4759, "duplicate"), 422, "validation_failed", "amount"},
		{"refund above the payment", cs.pay, refund, creditBody(4759, "duplicate"), 422, "validation_failed", "amount"},
		{"missing reason", cs.billing, path, `{"amount":1}`, 422, "validation_failed", "reason"},
		{"unknown reason", cs.billing, path, creditBody(1, "goodwill"), 422, "validation_failed", "reason"},
		{"reason in another case", cs.billing, path, creditBody(1, "Duplicate"), 422, "validation_failed", "reason"},
		{"memo of 501 characters", cs.billing, path, `{"amount":1,"reason":"duplicate","memo":"` + long + `"}`, 422, "validation_failed", "memo"},
		{"unknown field", cs.billing, path, `{"amount":1,"reason":"duplicate","currency":"EUR"}`, 400, "validation_failed", "currency"},
		{"duplicate field", cs.billing, path, `{"amount":1,"amount":2,"reason":"duplicate"}`, 400, "validation_failed", ""},
		{"not JSON", cs.billing, path, `amount=1`, 400, "validation_failed", ""},
		{"empty body", cs.billing, path, ``, 400, "validation_failed", ""},
		{"unknown invoice", cs.billing, "/v1/invoices/in_aaaaaaaaaaaaaaaaaaaaaaaaaa/credit-notes", creditBody(1, "duplicate"), 404, "not_found", ""},
		{"malformed invoice id", cs.billing, "/v1/invoices/INV-1/credit-notes", creditBody(1, "duplicate"), 404, "not_found", ""},
		{"draft invoice", cs.billing, "/v1/invoices/" + draft.ID + "/credit-notes", creditBody(1, "duplicate"), 409, "invalid_state", ""},
		{"void invoice", cs.billing, "/v1/invoices/" + void.ID + "/credit-notes", creditBody(1, "duplicate"), 409, "invalid_state", ""},
		{"uncollectible invoice", cs.admin, "/v1/invoices/" + uncollectible.ID + "/credit-notes", creditBody(1, "duplicate"), 409, "invalid_state", ""},
	}
	for _, tt := range tests {
		status, body := tt.c.Do("POST", tt.path, tt.body)
		stacktest.ExpectProblem(t, tt.name, status, body, tt.status, tt.code, tt.field)
	}
	for _, id := range []string{open.ID, paid.ID, draft.ID, void.ID, uncollectible.ID} {
		if notes := cs.notes(id); len(notes) != 0 {
			t.Errorf("refused requests stored credit notes on %s: %+v", id, notes)
		}
	}
	if got := stacktest.StoredInvoice(cs.t, cs.s, open.ID); got.AmountDue != 4758 || got.AmountCredited != 0 || got.UpdatedAt != open.UpdatedAt {
		t.Errorf("open invoice after refused requests: %+v", got)
	}
	if got := stacktest.StoredInvoice(cs.t, cs.s, paid.ID); got.RefundReserved != 0 || got.AmountRefunded != 0 {
		t.Errorf("paid invoice after refused requests: %+v", got)
	}
	if n := len(cs.sandbox.Refunds()); n != 0 {
		t.Errorf("refused requests refunded %d times", n)
	}
	// A memo of exactly 500 characters is accepted, and the invoice is still creditable.
	cs.billing.Must(201, "POST", path, `{"amount":1,"reason":"duplicate","memo":"`+long[2:]+`"}`, nil)

	// Reads: malformed and unknown ids, lists without a filter, foreign cursors.
	reads := []struct {
		name, path string
		status     int
	}{
		{"unknown credit note", "/v1/credit-notes/cn_aaaaaaaaaaaaaaaaaaaaaaaaaa", 404},
		{"malformed credit note id", "/v1/credit-notes/CN-000001", 404},
		{"unknown payment", "/v1/payments/pay_aaaaaaaaaaaaaaaaaaaaaaaaaa", 404},
		{"malformed payment id", "/v1/payments/123", 404},
		{"list without a filter", "/v1/credit-notes", 400},
		{"payments without a filter", "/v1/payments", 400},
		{"malformed invoice filter", "/v1/credit-notes?invoice_id=x", 400},
		{"malformed customer filter", "/v1/payments?customer_id=x", 400},
		{"limit 0", "/v1/credit-notes?customer_id=" + cus + "&limit=0", 400},
		{"limit 101", "/v1/payments?customer_id=" + cus + "&limit=101", 400},
		{"invoice cursor on credit notes", "/v1/credit-notes?customer_id=" + cus + "&cursor=MjAyNi0wMS0wMVQwMDowMDowMC4wMDBaI2luX2FhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh", 400},
	}
	for _, tt := range reads {
		if status, body := cs.billing.Do("GET", tt.path, ""); status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, status, body, tt.status)
		}
	}
}

// TestProcessorDown: when the processor does not answer, the refund is 503, its note stays pending (not
// visible, its amount still reserved) and the client's retry with the same Idempotency-Key recovers it:
// the processor is asked again under the same key, so a refund that went through is not made twice.
func TestProcessorDown(t *testing.T) {
	for _, tt := range []struct {
		name        string
		afterRefund bool
	}{{"before the refund", false}, {"after the refund", true}} {
		t.Run(tt.name, func(t *testing.T) {
			cs := newCNStack(t)
			cus := cs.billing.Customer("Ada").ID
			inv, pay := cs.paid(cus, processor.TestVisa)
			cs.proc.down.Store(true)
			cs.proc.afterRefund.Store(tt.afterRefund)
			status, body := credit(cs.pay, inv.ID, 1000, "Idempotency-Key", "down-1")
			if p := stacktest.Decode[stacktest.Problem](t, body); status != 503 || p.Code != "service_unavailable" || strings.Contains(body, "injected") {
				t.Fatalf("refund with the processor down: %d %s", status, body)
			}
			notes := cs.notes(inv.ID)
			if len(notes) != 1 || notes[0].Status != billing.CreditNotePending {
				t.Fatalf("notes after the outage: %+v", notes)
			}
			if status, _ := cs.billing.Do("GET", "/v1/credit-notes/"+notes[0].ID, ""); status != 404 {
				t.Errorf("a pending note is visible: %d", status)
			}
			if got := stacktest.StoredInvoice(cs.t, cs.s, inv.ID); got.RefundReserved != 1000 || got.AmountRefunded != 0 {
				t.Errorf("invoice during the outage: reserved %d, refunded %d", got.RefundReserved, got.AmountRefunded)
			}
			cs.proc.down.Store(false)
			var cn billing.CreditNote
			cs.pay.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", creditBody(1000, "order_change"), &cn, "Idempotency-Key", "down-1")
			if cn.ID != notes[0].ID || cn.Number != "CN-000001" {
				t.Errorf("the retry answered %+v, want the pending note %s", cn, notes[0].ID)
			}
			cs.checkRefunds(inv, pay.ID, 1)
		})
	}
}

// TestDynamoDBFailsAfterRefund: the refund went through but could not be recorded (503, the note stays
// pending). A later request of another client, with no key, recovers it first (with its own audit
// record, RecoverRefund) and then makes its own refund; the first client's retry gets its note.
func TestDynamoDBFailsAfterRefund(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv, pay := cs.paid(cus, processor.TestVisa)
	cs.db.FailWhen(stacktest.First(1, stacktest.IssuesRefund))
	status, body := credit(cs.pay, inv.ID, 1000, "Idempotency-Key", "crash-1")
	if p := stacktest.Decode[stacktest.Problem](t, body); status != 503 || p.Code != "service_unavailable" || strings.Contains(body, "injected") {
		t.Fatalf("refund whose commit fails: %d %s", status, body)
	}
	if !strings.Contains(stacktest.Logs.String(), "injected DynamoDB fault") {
		t.Errorf("the fault is not in the logs")
	}
	if n := len(cs.sandbox.Refunds()); n != 1 {
		t.Fatalf("%d refunds before recovery, want 1", n)
	}
	var own billing.CreditNote
	cs.admin.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", creditBody(500, "duplicate"), &own)
	if own.Amount != 500 || own.Number != "CN-000002" {
		t.Errorf("the recovering request's own note: %+v", own)
	}
	var retried billing.CreditNote
	cs.pay.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", creditBody(1000, "order_change"), &retried, "Idempotency-Key", "crash-1")
	if retried.Amount != 1000 || retried.Number != "CN-000001" || retried.ID == own.ID {
		t.Errorf("the first client's retry: %+v", retried)
	}
	cs.checkRefunds(inv, pay.ID, 2)
	var recovered int
	for _, rec := range stacktest.AuditRecords(cs.t, cs.s) {
		if rec.EventName == creditnotes.RecoverEvent {
			recovered++
			if rec.ErrorCode != "" || len(rec.Resources) != 3 || rec.Resources[1].ID != retried.ID {
				t.Errorf("recovery record: %+v", rec)
			}
		}
	}
	if recovered != 1 {
		t.Errorf("%d RecoverRefund records, want 1", recovered)
	}
}

// TestCrashKeepsLease: a request that dies after the processor's answer (its commit and its lease cut
// both fail) leaves its note pending under a live lease: other requests go on without it (its amount
// stays reserved) until the lease ends; the next request then recovers it.
func TestCrashKeepsLease(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv, pay := cs.paid(cus, processor.TestVisa)
	cs.db.FailWhen(func(in *dynamodb.TransactWriteItemsInput) bool {
		return stacktest.IssuesRefund(in) || (len(in.TransactItems) == 1 && in.TransactItems[0].Update != nil && in.TransactItems[0].Update.ExpressionAttributeValues[":from"] != nil)
	})
	if status, body := credit(cs.pay, inv.ID, 4000); status != 503 {
		t.Fatalf("refund that dies: %d %s", status, body)
	}
	cs.db.FailWhen(nil)
	// The lease is live: the reservation holds, nothing is recovered.
	if status, body := credit(cs.pay, inv.ID, 1000); status != 422 {
		t.Errorf("refund beyond what the live reservation leaves: %d %s", status, body)
	}
	cs.pay.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", creditBody(758, "duplicate"), nil)
	if got := stacktest.StoredInvoice(cs.t, cs.s, inv.ID); len(got.PendingRefunds) != 1 {
		t.Errorf("pending refunds with a live lease: %v", got.PendingRefunds)
	}
	cs.clock.Advance(creditnotes.DefaultLease + 1)
	// After the lease, the next request recovers the note, then finds nothing left for its own refund.
	if status, body := credit(cs.pay, inv.ID, 1); status != 422 {
		t.Errorf("request after the lease: %d %s", status, body)
	}
	cs.checkRefunds(inv, pay.ID, 2)
}

// TestRecoveredRefusal: a refund of the refund-failing card whose request lost the processor's answer
// is recovered by the next request: the processor's refusal releases the reservation and deletes the
// pending note (RecoverRefund record with refund_failed); no credit note stays, nothing is refunded.
func TestRecoveredRefusal(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv, _ := cs.paid(cus, processor.TestRefundFails)
	cs.proc.down.Store(true)
	if status, body := credit(cs.pay, inv.ID, 1000); status != 503 {
		t.Fatalf("refund with the processor down: %d %s", status, body)
	}
	cs.proc.down.Store(false)
	status, body := credit(cs.admin, inv.ID, 500)
	if p := stacktest.Decode[stacktest.Problem](t, body); status != 402 || p.Code != "refund_failed" {
		t.Errorf("the next refund: %d %s", status, body)
	}
	if notes := cs.notes(inv.ID); len(notes) != 0 {
		t.Errorf("credit notes kept: %+v", notes)
	}
	if got := stacktest.StoredInvoice(cs.t, cs.s, inv.ID); got.RefundReserved != 0 || len(got.PendingRefunds) != 0 || got.AmountRefunded != 0 {
		t.Errorf("invoice after the recovered refusal: %+v", got)
	}
	var recovered []string
	for _, rec := range stacktest.AuditRecords(cs.t, cs.s) {
		if rec.EventName == creditnotes.RecoverEvent {
			recovered = append(recovered, rec.ErrorCode)
		}
	}
	if len(recovered) != 1 || recovered[0] != "refund_failed" {
		t.Errorf("RecoverRefund records: %v", recovered)
	}
	if n := len(cs.sandbox.Refunds()); n != 0 {
		t.Errorf("%d refunds accepted", n)
	}
}

// TestCreditDuringPayment: while a payment attempt holds an open invoice (its card may be being
// charged for the amount due), a pre-payment credit note is refused (409) and changes nothing.
func TestCreditDuringPayment(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv := cs.billing.Open(cus)
	stored := stacktest.StoredInvoice(cs.t, cs.s, inv.ID)
	now := cs.clock.Now()
	p := &billing.Payment{ID: billing.NewID(billing.PaymentPrefix), InvoiceID: inv.ID, CustomerID: cus,
		TokenID: "tok_00000000000000000000000000000000", Status: billing.PaymentProcessing, Amount: stored.AmountDue,
		Currency: stored.Currency, CreatedAt: billing.FormatTime(now), UpdatedAt: billing.FormatTime(now)}
	items, err := stacktest.BillingStore(cs.s).ClaimItems(stored, p, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cs.s.Env.AWS).TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		t.Fatal(err)
	}
	status, body := credit(cs.billing, inv.ID, 100)
	if p := stacktest.Decode[stacktest.Problem](t, body); status != 409 || p.Code != "invalid_state" {
		t.Errorf("credit note during a payment: %d %s", status, body)
	}
	if got := stacktest.StoredInvoice(cs.t, cs.s, inv.ID); got.AmountDue != 4758 || got.AmountCredited != 0 || len(cs.notes(inv.ID)) != 0 {
		t.Errorf("invoice after the refused credit note: %+v", got)
	}
}
