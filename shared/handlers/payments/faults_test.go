package payments_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestBadInput: refused requests answer their code, charge nothing, store no payment and leave the
// invoice as it was.
func TestBadInput(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	other := ps.billing.Customer("Other").ID
	inv := ps.billing.Open(cus)
	tok := ps.pay.Tokenize(cus, processor.TestVisa)
	othersTok := ps.pay.Tokenize(other, processor.TestMastercard)
	draft := ps.billing.Draft(cus)
	void := ps.billing.Open(cus)
	ps.billing.Must(200, "POST", "/v1/invoices/"+void.ID+"/void", "", nil)
	uncollectible := ps.billing.Open(cus)
	ps.billing.Must(200, "POST", "/v1/invoices/"+uncollectible.ID+"/mark-uncollectible", "", nil)
	paid := ps.billing.Open(cus)
	ps.pay.Must(200, "POST", "/v1/invoices/"+paid.ID+"/pay", payBody(tok), nil)
	charges := len(ps.sandbox.Accepted())

	path := "/v1/invoices/" + inv.ID + "/pay"
	tests := []struct {
		name, path, body string
		status           int
		code, field      string
	}{
		{"token of another customer", path, payBody(othersTok), 404, "not_found", ""},
		{"unknown token", path, payBody("tok_0123456789abcdef0123456789abcdef"), 404, "not_found", ""},
		{"malformed token", path, payBody("TOK#x"), 400, "validation_failed", "token"},
		{"card number as token", path, payBody(processor.TestVisa), 400, "validation_failed", "token"},
		{"missing token", path, `{}`, 422, "validation_failed", "token"},
		{"empty token", path, `{"token":""}`, 422, "validation_failed", "token"},
		{"token of the wrong type", path, `{"token":42}`, 400, "validation_failed", "token"},
		{"unknown field", path, `{"token":"` + tok + `","amount":1}`, 400, "validation_failed", "amount"},
		{"card number instead of a token", path, `{"card":{"number":"` + processor.TestVisa + `"}}`, 400, "validation_failed", "card"},
		{"not JSON", path, `token=` + tok, 400, "validation_failed", ""},
		{"empty body", path, ``, 400, "validation_failed", ""},
		{"unknown invoice", "/v1/invoices/in_aaaaaaaaaaaaaaaaaaaaaaaaaa/pay", payBody(tok), 404, "not_found", ""},
		{"draft invoice", "/v1/invoices/" + draft.ID + "/pay", payBody(tok), 409, "invalid_state", ""},
		{"void invoice", "/v1/invoices/" + void.ID + "/pay", payBody(tok), 409, "invalid_state", ""},
		{"uncollectible invoice", "/v1/invoices/" + uncollectible.ID + "/pay", payBody(tok), 409, "invalid_state", ""},
		{"paid invoice", "/v1/invoices/" + paid.ID + "/pay", payBody(tok), 409, "invalid_state", ""},
	}
	for _, tt := range tests {
		status, body := ps.pay.Do("POST", tt.path, tt.body)
		stacktest.ExpectProblem(t, tt.name, status, body, tt.status, tt.code, tt.field)
		assertNoCardNumber(t, body, processor.TestVisa, processor.TestMastercard)
	}
	if n := len(ps.sandbox.Accepted()); n != charges {
		t.Errorf("refused requests charged %d times", n-charges)
	}
	if list := ps.payments(inv.ID); len(list) != 0 {
		t.Errorf("refused requests stored payments: %+v", list)
	}
	if got := stacktest.StoredInvoice(ps.t, ps.s, inv.ID); got.Status != billing.Open || got.ClaimPaymentID != "" || got.AmountDue != inv.AmountDue || got.UpdatedAt != inv.UpdatedAt {
		t.Errorf("invoice after refused requests: %+v", got)
	}
	// The invoice is still payable.
	ps.pay.Must(200, "POST", path, payBody(tok), nil)
}

// TestKMSFailure: when KMS cannot decrypt the card, pay answers 503 service_unavailable, the processor
// is never called, the invoice stays open with its claim released and no attempt kept; once KMS is
// back the same request pays it.
func TestKMSFailure(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	inv := ps.billing.Open(cus)
	tok := ps.pay.Tokenize(cus, processor.TestVisa)

	ps.wire(failingKMS{KMS: kms.NewFromConfig(ps.s.Env.AWS)})
	status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", "kms-1")
	if p := stacktest.Decode[stacktest.Problem](t, body); status != 503 || p.Code != "service_unavailable" {
		t.Fatalf("pay with KMS down: %d %s", status, body)
	}
	if strings.Contains(body, "injected") || strings.Contains(body, "KMSInternalException") {
		t.Errorf("internal error text reached the client: %s", body)
	}
	if n := len(ps.sandbox.Accepted()); n != 0 {
		t.Errorf("%d charges with KMS down", n)
	}
	stored := stacktest.StoredInvoice(ps.t, ps.s, inv.ID)
	if stored.Status != billing.Open || stored.ClaimPaymentID != "" || stored.AmountDue != inv.AmountDue {
		t.Errorf("invoice after a KMS failure: %+v", stored)
	}
	if list := ps.payments(inv.ID); len(list) != 0 {
		t.Errorf("payments kept after a KMS failure: %+v", list)
	}
	// The fault was logged in full (for the operator), without card data.
	if !strings.Contains(stacktest.Logs.String(), "injected KMS outage") {
		t.Errorf("the KMS fault is not in the logs")
	}
	assertNoCardNumber(t, body, processor.TestVisa)

	ps.wire(nil)
	status, body = ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", "kms-1")
	if status != 200 {
		t.Fatalf("retry with KMS back: %d %s", status, body)
	}
	if n := len(ps.sandbox.Accepted()); n != 1 {
		t.Errorf("%d charges, want 1", n)
	}
}

// TestDynamoDBFailureAfterCharge: the processor accepted the charge but the commit failed. The request
// fails with a 5xx; a retry, with the same Idempotency-Key or another, finds the interrupted attempt,
// asks the processor again with the attempt's key (which answers with the first result), and commits
// it: the invoice is paid once and the card charged once.
func TestDynamoDBFailureAfterCharge(t *testing.T) {
	for _, retryKey := range []string{"same-key", "other-key"} {
		t.Run(retryKey, func(t *testing.T) {
			ps := newPayStack(t)
			cus := ps.billing.Customer("Ada").ID
			inv := ps.billing.Open(cus)
			tok := ps.pay.Tokenize(cus, processor.TestVisa)
			ps.db.FailWhen(stacktest.First(1, stacktest.SettlesPaid))

			status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", "same-key")
			if p := stacktest.Decode[stacktest.Problem](t, body); status != 503 || p.Code != "service_unavailable" {
				t.Fatalf("pay with the commit failing: %d %s", status, body)
			}
			if ps.db.Failed.Load() != 1 || len(ps.sandbox.Accepted()) != 1 {
				t.Fatalf("fault not hit (%d) or charge not made (%d)", ps.db.Failed.Load(), len(ps.sandbox.Accepted()))
			}
			held := stacktest.StoredInvoice(ps.t, ps.s, inv.ID)
			if held.Status != billing.Open || held.ClaimPaymentID == "" {
				t.Fatalf("after the failed commit the invoice should be open and held: %+v", held)
			}

			status, body = ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", retryKey)
			if status != 200 {
				t.Fatalf("retry: %d %s", status, body)
			}
			got := stacktest.Decode[payments.PayResponse](t, body)
			if got.Payment.ID != held.ClaimPaymentID || got.Invoice.Status != billing.Paid {
				t.Errorf("retry answered %+v, want the interrupted attempt %s settled", got.Payment, held.ClaimPaymentID)
			}
			assertPaidOnce(t, ps, inv.ID)

			// Any later request charges nothing either.
			status, _ = ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok))
			if status != 409 {
				t.Errorf("pay after recovery: %d, want 409", status)
			}
			assertPaidOnce(t, ps, inv.ID)
		})
	}
}

// TestRecoveryAfterLease: when even shortening the lease fails (the whole DynamoDB outage), the claim
// protects the attempt until its lease ends: requests meanwhile are refused with 409, and the first
// request after the lease recovers and settles the attempt without charging again.
func TestRecoveryAfterLease(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	inv := ps.billing.Open(cus)
	tok := ps.pay.Tokenize(cus, processor.TestVisa)
	charged := false
	ps.db.FailWhen(func(in *dynamodb.TransactWriteItemsInput) bool {
		// Every write after the charge fails: the commit and the lease shortening.
		charged = charged || len(ps.sandbox.Accepted()) > 0
		return charged
	})
	if status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok)); status != 503 {
		t.Fatalf("pay during an outage: %d %s", status, body)
	}
	ps.db.FailWhen(nil)

	status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok))
	if p := stacktest.Decode[stacktest.Problem](t, body); status != 409 || p.Code != "invalid_state" || !strings.Contains(p.Detail, "in progress") {
		t.Errorf("pay while the attempt's lease runs: %d %s", status, body)
	}
	// Nor can it be voided or written off: the card may have been charged.
	status, body = ps.billing.Do("POST", "/v1/invoices/"+inv.ID+"/void", "")
	if p := stacktest.Decode[stacktest.Problem](t, body); status != 409 || p.Code != "invalid_state" {
		t.Errorf("void while a payment is in progress: %d %s", status, body)
	}
	status, _ = ps.billing.Do("POST", "/v1/invoices/"+inv.ID+"/mark-uncollectible", "")
	if status != 409 {
		t.Errorf("mark-uncollectible while a payment is in progress: %d", status)
	}

	ps.clock.Advance(payments.DefaultLease + 1)
	status, body = ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok))
	if status != 200 {
		t.Fatalf("pay after the lease: %d %s", status, body)
	}
	assertPaidOnce(t, ps, inv.ID)
	// The void refused above would now be refused for the paid invoice itself.
	if status, _ := ps.billing.Do("POST", "/v1/invoices/"+inv.ID+"/void", ""); status != 409 {
		t.Errorf("void of a paid invoice: %d", status)
	}
}

// TestRecoveredDeclineFreesInvoice: an interrupted attempt with a declined card is settled as failed by
// the next request, which then pays with its own card.
func TestRecoveredDeclineFreesInvoice(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	inv := ps.billing.Open(cus)
	bad := ps.pay.Tokenize(cus, processor.TestDeclined)
	good := ps.pay.Tokenize(cus, processor.TestVisa)
	// The decline's commit fails: the attempt stays held with a decline the processor remembers.
	ps.db.FailWhen(stacktest.First(1, stacktest.StoresOutcome))
	if status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(bad)); status != 503 {
		t.Fatalf("decline with the commit failing: %d %s", status, body)
	}
	status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(good))
	if status != 200 {
		t.Fatalf("pay after an interrupted decline: %d %s", status, body)
	}
	got := statuses(ps.payments(inv.ID))
	if got[billing.PaymentFailed] != 1 || got[billing.PaymentSucceeded] != 1 || len(got) != 2 {
		t.Errorf("payments: %v", got)
	}
	if n := len(ps.sandbox.Accepted()); n != 1 {
		t.Errorf("%d charges, want 1", n)
	}
	var recovered int
	for _, rec := range stacktest.AuditRecords(ps.t, ps.s) {
		if rec.EventName == payments.RecoverEvent && rec.ErrorCode == "card_declined" {
			recovered++
		}
	}
	if recovered != 1 {
		t.Errorf("%d RecoverPayment records, want 1", recovered)
	}
}

// assertPaidOnce checks the end state every exactly-once test expects: the invoice paid, one succeeded
// payment (the one it names), no attempt left processing, one charge accepted by the processor.
func assertPaidOnce(t *testing.T, ps *payStack, invoiceID string) {
	t.Helper()
	inv := stacktest.StoredInvoice(ps.t, ps.s, invoiceID)
	list := ps.payments(invoiceID)
	var succeeded []billing.Payment
	for _, p := range list {
		switch p.Status {
		case billing.PaymentSucceeded:
			succeeded = append(succeeded, p)
		case billing.PaymentProcessing:
			t.Errorf("payment %s left processing", p.ID)
		}
	}
	if inv.Status != billing.Paid || inv.AmountPaid != inv.Total || inv.AmountDue != 0 || inv.ClaimPaymentID != "" {
		t.Errorf("invoice: status %s, paid %d of %d, due %d, claim %q", inv.Status, inv.AmountPaid, inv.Total, inv.AmountDue, inv.ClaimPaymentID)
	}
	if len(succeeded) != 1 || inv.PaymentID == nil || *inv.PaymentID != succeeded[0].ID {
		t.Errorf("succeeded payments %+v; invoice names %v", succeeded, inv.PaymentID)
	}
	charges := ps.sandbox.Accepted()
	if len(charges) != 1 {
		t.Errorf("%d charges accepted, want exactly 1: %+v", len(charges), charges)
	} else if len(succeeded) == 1 && charges[0].IdempotencyKey != succeeded[0].ID {
		t.Errorf("charge %+v is not the succeeded payment %s", charges[0], succeeded[0].ID)
	}
}

// TestRecoveryWithoutItsTokenFailsClosed: an interrupted attempt whose token has since been deleted
// cannot be asked about again, so it is neither settled nor abandoned: the invoice stays held (no
// second payment, no void) and the request says an operator is needed. Nothing is charged twice.
func TestRecoveryWithoutItsTokenFailsClosed(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	inv := ps.billing.Open(cus)
	tok := ps.pay.Tokenize(cus, processor.TestVisa)
	other := ps.pay.Tokenize(cus, processor.TestMastercard)
	ps.db.FailWhen(stacktest.First(1, stacktest.SettlesPaid))
	if status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok)); status != 503 {
		t.Fatalf("pay with the commit failing: %d %s", status, body)
	}
	ps.pay.Must(200, "DELETE", "/v1/tokens/"+tok, "", nil)

	for range 2 {
		status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(other))
		if p := stacktest.Decode[stacktest.Problem](t, body); status != 409 || p.Code != "invalid_state" || !strings.Contains(p.Detail, "operator") {
			t.Errorf("pay after the interrupted attempt's token was deleted: %d %s", status, body)
		}
	}
	held := stacktest.StoredInvoice(ps.t, ps.s, inv.ID)
	if held.Status != billing.Open || held.ClaimPaymentID == "" {
		t.Errorf("invoice: %+v, want open and still held", held)
	}
	if n := len(ps.sandbox.Accepted()); n != 1 {
		t.Errorf("%d charges, want the interrupted one only", n)
	}
}
