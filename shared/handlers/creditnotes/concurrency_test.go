package creditnotes_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// issued returns an invoice's issued post-payment credit notes and fails on any note still pending.
func (cs *cnStack) issued(invoiceID string) []billing.CreditNote {
	cs.t.Helper()
	var out []billing.CreditNote
	for _, cn := range cs.notes(invoiceID) {
		if cn.Status != billing.CreditNoteIssued {
			cs.t.Errorf("credit note %s is still %s", cn.ID, cn.Status)
			continue
		}
		if cn.Type == billing.PostPayment {
			out = append(out, cn)
		}
	}
	return out
}

// checkRefunds asserts exactly-once: the sandbox accepted one refund per issued post-payment note, each
// under that note's id and amount, and the invoice and payment add up to the same total.
func (cs *cnStack) checkRefunds(inv billing.Invoice, paymentID string, want int) {
	cs.t.Helper()
	notes := cs.issued(inv.ID)
	refunds := cs.sandbox.Refunds()
	byKey := map[string]int64{}
	for _, r := range refunds {
		byKey[r.IdempotencyKey] += r.Amount
	}
	var sum int64
	for _, cn := range notes {
		if byKey[cn.ID] != cn.Amount {
			cs.t.Errorf("credit note %s of %d: the sandbox refunded %d under its key", cn.ID, cn.Amount, byKey[cn.ID])
		}
		sum += cn.Amount
	}
	if len(refunds) != len(notes) || len(notes) != want {
		cs.t.Errorf("%d refunds accepted, %d post-payment credit notes issued, want %d", len(refunds), len(notes), want)
	}
	got := cs.totals(inv.ID, paymentID)
	stored := stacktest.StoredInvoice(cs.t, cs.s, inv.ID)
	if got.Refunded != sum || got.PaymentRefunded != sum || refundedSum(refunds) != sum || sum > got.Paid ||
		stored.RefundReserved != sum || len(stored.PendingRefunds) != 0 {
		cs.t.Errorf("refunded: notes %d, invoice %d, payment %d, sandbox %d, reserved %d (pending %v), paid %d",
			sum, got.Refunded, got.PaymentRefunded, refundedSum(refunds), stored.RefundReserved, stored.PendingRefunds, got.Paid)
	}
}

// TestConcurrentRefunds: 8 refunds of 1000 at once on a payment of 4758: exactly the 4 that fit succeed,
// the others are refused (422), and the sandbox refunded exactly the issued notes.
func TestConcurrentRefunds(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv, pay := cs.paid(cus, processor.TestVisa)

	statuses := refundAtOnce(cs, inv.ID, 8, 1000, "")
	if statuses[201] != 4 || statuses[422] != 4 {
		t.Errorf("statuses %v, want 4 × 201 and 4 × 422", statuses)
	}
	cs.checkRefunds(inv, pay.ID, 4)
}

// refundAtOnce sends n refunds of amount at once (each with its own Idempotency-Key, prefix+i, when
// prefix is set) and counts the statuses.
func refundAtOnce(cs *cnStack, invoiceID string, n int, amount int64, prefix string) map[int]int {
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var headers []string
			if prefix != "" {
				headers = []string{"Idempotency-Key", fmt.Sprintf("%s-%d", prefix, i)}
			}
			status, body := credit(cs.pay, invoiceID, amount, headers...)
			if status != 201 && status != 422 && status != 503 {
				cs.t.Errorf("refund %d: %d %s", i, status, body)
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return statuses
}

// TestConcurrentRefundsWithCrash: the same 8 refunds, but the first 3 that the processor accepts cannot
// be recorded (DynamoDB fails after the refund, as a crash would leave them). Those requests fail
// (503) with their notes pending; concurrent requests and the clients' retries (same Idempotency-Key)
// recover them from the processor's first answer. In the end exactly 4 notes are issued, and the
// sandbox refunded exactly those, once each.
func TestConcurrentRefundsWithCrash(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv, pay := cs.paid(cus, processor.TestVisa)

	cs.db.FailWhen(stacktest.First(3, stacktest.IssuesRefund))
	statuses := refundAtOnce(cs, inv.ID, 8, 1000, "crash")
	if cs.db.Failed.Load() != 3 {
		t.Fatalf("%d injected faults, want 3", cs.db.Failed.Load())
	}
	// A request that recovers another's note may itself hit a fault (503) before its own refund.
	if statuses[503] == 0 || statuses[201] > 4 || statuses[422] > 4 || statuses[201]+statuses[503] < 4 {
		t.Errorf("statuses %v: at most the 4 that fit answered 201, the crashed ones 503", statuses)
	}
	// The clients retry every request with its key: those that crashed answer with their note, the
	// others replay their answer; nothing is refunded twice.
	retried := refundAtOnce(cs, inv.ID, 8, 1000, "crash")
	if retried[201] != 4 || retried[422] != 4 {
		t.Errorf("retries: statuses %v, want 4 × 201 and 4 × 422", retried)
	}
	cs.checkRefunds(inv, pay.ID, 4)
}

// TestGaplessNumbers: 20 credit notes at once on 20 invoices get CN-000001 … CN-000020, each once.
func TestGaplessNumbers(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	invs := make([]string, 20)
	for i := range invs {
		invs[i] = cs.billing.Open(cus).ID
	}
	numbers := make([]string, len(invs))
	var wg sync.WaitGroup
	for i, id := range invs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cn billing.CreditNote
			cs.billing.Must(201, "POST", "/v1/invoices/"+id+"/credit-notes", creditBody(100, "order_change"), &cn)
			numbers[i] = cn.Number
		}()
	}
	wg.Wait()
	sort.Strings(numbers)
	for i, n := range numbers {
		if want := billing.FormatCreditNoteNumber(int64(i + 1)); n != want {
			t.Errorf("numbers %v: position %d is %s, want %s", numbers, i, n, want)
			break
		}
	}
	for _, id := range invs {
		if got := stacktest.StoredInvoice(cs.t, cs.s, id); got.AmountDue != 4658 || got.AmountCredited != 100 {
			t.Errorf("invoice %s: due %d, credited %d", id, got.AmountDue, got.AmountCredited)
		}
	}
}
