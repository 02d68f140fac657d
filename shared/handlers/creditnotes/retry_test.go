package creditnotes_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/creditnotes"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestRetryDuringItsOwnRefundIsKeyInUse: when a refund's commit fails after the processor refunded,
// and cutting its lease short fails too, the client's retry (same Idempotency-Key) finds the refund
// still in its first attempt's hands. It gets 409 idempotency_key_in_use, the documented answer while
// the first request is still running, which a client retries after a while; not invalid_state, which
// says no retry can succeed. After the lease the retry recovers the refund and answers its note.
func TestRetryDuringItsOwnRefundIsKeyInUse(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Ada").ID
	inv, pay := cs.paid(cus, processor.TestVisa)
	var committed, cut atomic.Bool
	cs.db.FailWhen(func(in *dynamodb.TransactWriteItemsInput) bool {
		if stacktest.IssuesRefund(in) && !committed.Swap(true) {
			return true // the commit after the processor refunded
		}
		return committed.Load() && !cut.Swap(true) // the lease cut that follows it
	})
	if status, body := credit(cs.pay, inv.ID, 1000, "Idempotency-Key", "again-1"); status != 503 {
		t.Fatalf("refund whose commit fails: %d %s", status, body)
	}
	status, body := credit(cs.pay, inv.ID, 1000, "Idempotency-Key", "again-1")
	if p := stacktest.Decode[stacktest.Problem](t, body); status != 409 || p.Code != "idempotency_key_in_use" {
		t.Errorf("retry under the first attempt's lease: %d %s, want 409 idempotency_key_in_use", status, body)
	}
	cs.clock.Advance(creditnotes.DefaultLease + time.Second)
	var cn billing.CreditNote
	cs.pay.Must(201, "POST", "/v1/invoices/"+inv.ID+"/credit-notes", creditBody(1000, "order_change"), &cn, "Idempotency-Key", "again-1")
	if cn.Amount != 1000 || cn.Status != billing.CreditNoteIssued {
		t.Errorf("the retry after the lease: %+v", cn)
	}
	cs.checkRefunds(inv, pay.ID, 1)
}
