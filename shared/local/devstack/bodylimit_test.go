package devstack_test

import (
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestOversizeBodyIsRefusedAndAudited: a body over 64 KiB is answered 413 payload_too_large by the
// function, with the audit record every refusal gets. The WAF lets such bodies through for this
// reason (infra/stacks/waf.go): a refusal at the edge would never reach the audit trail.
func TestOversizeBodyIsRefusedAndAudited(t *testing.T) {
	s := stacktest.New(t)
	tok := stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "bob"})
	body := `{"name":"` + strings.Repeat("a", 65<<10) + `","email":"a@b.co"}`
	resp, got := stacktest.Do(t, s, "POST", "/v1/customers", tok, body, "Idempotency-Key", "big-1")
	if resp.StatusCode != 413 || !strings.Contains(got, `"payload_too_large"`) || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d %s: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
	recs := auditRecords(t, s, resp.Header.Get("X-Amzn-RequestId"))
	if len(recs) != 1 || recs[0].ErrorCode != "payload_too_large" || recs[0].EventName != "CreateCustomer" {
		t.Errorf("audit records of the refusal: %+v", recs)
	}
}
