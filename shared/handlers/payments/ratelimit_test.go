package payments_test

import (
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/adapters/ratelimit"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestPaysAreCardAttempts: every pay counts against the card-attempt limit of its principal and its
// customer, declined ones included (card testing through stored tokens); the pay over the limit is
// 429 rate_limited with Retry-After, audited, and asks the processor nothing.
func TestPaysAreCardAttempts(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Busy").ID
	declined := ps.pay.Tokenize(cus, processor.TestDeclined) // the tokenization is the first attempt
	inv := ps.billing.Open(cus)
	for i := 2; i <= ratelimit.Defaults.Attempts; i++ {
		if status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(declined)); status != 402 {
			t.Fatalf("attempt %d: %d %s", i, status, body)
		}
	}
	status, body := ps.pay.Do("POST", "/v1/invoices/"+inv.ID+"/pay", payBody(declined))
	if status != 429 || !strings.Contains(body, `"code":"rate_limited"`) {
		t.Fatalf("attempt %d: %d %s, want 429 rate_limited", ratelimit.Defaults.Attempts+1, status, body)
	}
	if n := len(ps.payments(inv.ID)); n != ratelimit.Defaults.Attempts-1 {
		t.Errorf("%d payment attempts recorded, want %d: the throttled pay must reach no processor", n, ratelimit.Defaults.Attempts-1)
	}
	throttled := 0
	for _, r := range stacktest.AuditRecords(ps.t, ps.s) {
		if r.EventName == "PayInvoice" && r.ErrorCode == "rate_limited" {
			throttled++
		}
	}
	if throttled != 1 {
		t.Errorf("%d PayInvoice records with errorCode rate_limited, want 1", throttled)
	}
}
