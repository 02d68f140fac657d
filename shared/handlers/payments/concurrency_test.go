package payments_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// payConcurrently sends n pay requests for one invoice at once, each with its own Idempotency-Key,
// and counts the answers by status.
func payConcurrently(t *testing.T, ps *payStack, invoiceID, token string, n int) map[int]int {
	t.Helper()
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := ps.pay.Do("POST", "/v1/invoices/"+invoiceID+"/pay", payBody(token), "Idempotency-Key", fmt.Sprintf("burst-%d", i))
			mu.Lock()
			counts[status]++
			mu.Unlock()
			if status != 200 && status != 409 && status != 503 {
				t.Errorf("concurrent pay: %d %s", status, body)
			}
		}()
	}
	wg.Wait()
	return counts
}

// TestConcurrentPayChargesOnce: 20 pay requests at once on one invoice, each with its own
// Idempotency-Key: one succeeds, the others are refused with 409, one payment succeeded and the
// processor accepted one charge.
func TestConcurrentPayChargesOnce(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	inv := ps.billing.Open(cus)
	tok := ps.pay.Tokenize(cus, processor.TestVisa)

	counts := payConcurrently(t, ps, inv.ID, tok, 20)
	if diff := cmp.Diff(map[int]int{200: 1, 409: 19}, counts); diff != "" {
		t.Errorf("answers by status (-want +got):\n%s", diff)
	}
	assertPaidOnce(t, ps, inv.ID)
	if n := len(ps.payments(inv.ID)); n != 1 {
		t.Errorf("%d payment attempts stored, want 1 (the losers never reach the processor)", n)
	}
}

// TestConcurrentPayWithCrashChargesOnce: the same burst, but the commit after the first accepted charge
// fails (as if the function crashed there). The burst and one retry afterwards end with the invoice
// paid once and one charge: whoever recovers the attempt asks the processor with its key again.
func TestConcurrentPayWithCrashChargesOnce(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	inv := ps.billing.Open(cus)
	tok := ps.pay.Tokenize(cus, processor.TestVisa)
	ps.db.FailWhen(stacktest.First(1, stacktest.SettlesPaid))

	counts := payConcurrently(t, ps, inv.ID, tok, 20)
	t.Logf("burst answers by status: %v", counts)
	if counts[503] != 1 || counts[200] > 1 || counts[200]+counts[409]+counts[503] != 20 {
		t.Errorf("answers by status: %v; want one 503 (the crash), at most one 200, the rest 409", counts)
	}
	if ps.db.Failed.Load() != 1 {
		t.Fatalf("the injected fault was hit %d times, want 1", ps.db.Failed.Load())
	}
	// A retry (a client that got a 503 or a 409) settles the invoice if the burst did not.
	status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(tok), "Idempotency-Key", "retry")
	if counts[200] == 0 && status != 200 || counts[200] == 1 && status != 409 {
		t.Errorf("retry after the burst (%d successes in it): %d %s", counts[200], status, body)
	}
	assertPaidOnce(t, ps, inv.ID)
}
