package reliability_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
)

// op is one request of a history and its answer.
type op struct {
	Client  int
	Kind    string
	Invoice string
	Key     string
	Status  int
	Code    string
}

func (o op) String() string {
	s := fmt.Sprintf("c%d %-8s %-30s key=%s -> %d", o.Client, o.Kind, o.Invoice, o.Key, o.Status)
	if o.Code != "" {
		s += " " + o.Code
	}
	return s
}

// history records the operations of a run, in the order their answers arrived.
type history struct {
	mu  sync.Mutex
	ops []op
}

func (h *history) add(o op) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

func (h *history) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for i, o := range h.ops {
		fmt.Fprintf(&b, "%4d %s\n", i, o)
	}
	return b.String()
}

// invariants checks the money and audit invariants over the processor's records and the tables, and
// returns what broke.
func invariants(fs *faultStack) []string {
	var broken []string
	fail := func(format string, args ...any) { broken = append(broken, fmt.Sprintf(format, args...)) }
	tb := fs.read()

	// The processor's records, by invoice: a charge's idempotency key is its payment's id, a refund
	// names the charge.
	chargeInvoice := map[string]string{} // charge id -> invoice id
	charges := map[string][]int64{}
	for _, c := range fs.sandbox.Accepted() {
		p, ok := tb.payments[c.IdempotencyKey]
		if !ok {
			fail("charge %s (key %s, %d) has no payment stored", c.ChargeID, c.IdempotencyKey, c.Amount)
			continue
		}
		chargeInvoice[c.ChargeID] = p.InvoiceID
		charges[p.InvoiceID] = append(charges[p.InvoiceID], c.Amount)
	}
	refunds := map[string]int64{}
	for _, r := range fs.sandbox.Refunds() {
		inv, ok := chargeInvoice[r.ChargeID]
		if !ok {
			fail("refund %s of an unknown charge %s", r.RefundID, r.ChargeID)
			continue
		}
		refunds[inv] += r.Amount
		if cn, ok := tb.creditNotes[r.IdempotencyKey]; !ok || cn.Status != billing.CreditNoteIssued || cn.Amount != r.Amount {
			fail("refund %s (key %s, %d) has no issued credit note of its amount: %+v", r.RefundID, r.IdempotencyKey, r.Amount, cn)
		}
	}

	// The audit trail: committed changes (not refused requests, not reads), by event and resource.
	events := map[string]int{}
	for _, rec := range fs.auditRecords() {
		if rec.ErrorCode != "" || rec.ReadOnly {
			continue
		}
		for _, r := range rec.Resources {
			events[rec.EventName+" "+r.ID]++
		}
	}
	wantEvents := func(event, id string, want int) {
		if n := events[event+" "+id]; n != want {
			fail("%s: %d %s audit records, want %d", id, n, event, want)
		}
	}

	var invNumbers, cnNumbers []string
	for id, inv := range tb.invoices {
		var charged int64
		for _, a := range charges[id] {
			charged += a
		}
		if len(charges[id]) > 1 {
			fail("%s charged %d times: %v", id, len(charges[id]), charges[id])
		}
		if charged-refunds[id] != inv.AmountPaid-inv.AmountRefunded {
			fail("%s: charges %d − refunds %d ≠ amount_paid %d − amount_refunded %d", id, charged, refunds[id], inv.AmountPaid, inv.AmountRefunded)
		}
		if refunds[id] > inv.AmountPaid {
			fail("%s: refunds %d > amount_paid %d", id, refunds[id], inv.AmountPaid)
		}
		if inv.Status == billing.Paid && charged != inv.AmountPaid {
			fail("%s paid with amount_paid %d but charged %d", id, inv.AmountPaid, charged)
		}
		if inv.Status != billing.Paid && charged != 0 {
			fail("%s is %s but was charged %d", id, inv.Status, charged)
		}
		if inv.ClaimPaymentID != "" {
			fail("%s still claimed by %s after recovery", id, inv.ClaimPaymentID)
		}
		wantEvents("CreateInvoice", id, 1)
		finalized := 0
		if inv.Number != nil {
			finalized = 1
			invNumbers = append(invNumbers, *inv.Number)
		}
		wantEvents("FinalizeInvoice", id, finalized)
		voided := 0
		if inv.Status == billing.Void {
			voided = 1
		}
		wantEvents("VoidInvoice", id, voided)
	}
	for id, p := range tb.payments {
		if p.Status == billing.PaymentSucceeded {
			if inv := tb.invoices[p.InvoiceID]; inv == nil || inv.Status != billing.Paid {
				fail("payment %s succeeded but invoice %s is not paid: %+v", id, p.InvoiceID, inv)
			}
		}
	}
	for id, cn := range tb.creditNotes {
		if cn.Status != billing.CreditNoteIssued {
			fail("credit note %s still %s after recovery", id, cn.Status)
			continue
		}
		cnNumbers = append(cnNumbers, cn.Number)
		// A note is issued by its request (CreateCreditNote) or, when that request died after the
		// processor's answer, by the request that recovered it (RecoverRefund); the first request's retry
		// then answers with the recovered note under its own CreateCreditNote record.
		created, recovered := events["CreateCreditNote "+id], events["RecoverRefund "+id]
		if (recovered == 0 && created != 1) || (recovered > 0 && (recovered != 1 || created > 1)) {
			fail("credit note %s: %d CreateCreditNote and %d RecoverRefund audit records, want one issuing it", id, created, recovered)
		}
	}
	gapless := func(what string, numbers []string) {
		seq := make([]int, 0, len(numbers))
		for _, n := range numbers {
			i := strings.LastIndexFunc(n, func(r rune) bool { return r < '0' || r > '9' })
			v, err := strconv.Atoi(n[i+1:])
			if err != nil {
				fail("%s number %q has no sequence", what, n)
				return
			}
			seq = append(seq, v)
		}
		sort.Ints(seq)
		for i, v := range seq {
			if v != i+1 {
				fail("%s numbers are not 1..%d once each: %v", what, len(seq), seq)
				return
			}
		}
	}
	gapless("invoice", invNumbers)
	gapless("credit note", cnNumbers)
	return broken
}
