package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// TestInvokeSampleEvents runs functions on the sample events, as `vaultbill invoke` users do.
func TestInvokeSampleEvents(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", stacktest.Endpoint(t))
	t.Setenv("VAULTBILL_STATE", t.TempDir())

	var out bytes.Buffer
	if err := invoke(context.Background(), []string{"me", "--event", "../../events/me/get-me.json"}, &out); err != nil {
		t.Fatalf("invoke me: %v", err)
	}
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"principal":"billing-user"`) {
		t.Fatalf("me response: %s", out.String())
	}

	out.Reset()
	if err := invoke(context.Background(), []string{"invoices", "--event", "../../events/invoices/create-customer.json"}, &out); err != nil {
		t.Fatalf("invoke invoices: %v", err)
	}
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.StatusCode != 201 || !strings.Contains(resp.Body, `"object":"customer"`) {
		t.Fatalf("create customer response: %s", out.String())
	}
	out.Reset()
	if err := invoke(context.Background(), []string{"audit-query", "--event", "../../events/audit-query/list-audit-events.json"}, &out); err != nil {
		t.Fatalf("invoke audit-query: %v", err)
	}
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"data":[`) {
		t.Fatalf("list audit events response: %s", out.String())
	}
	for _, fn := range []string{"backup", "restore-test"} {
		out.Reset()
		if err := invoke(context.Background(), []string{fn, "--event", "../../events/" + fn + "/scheduled.json"}, &out); err != nil {
			t.Fatalf("invoke %s: %v", fn, err)
		}
		var sum struct {
			Operation, Outcome string
			Tables             []struct{ Table string }
		}
		if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Operation != fn || sum.Outcome != "succeeded" || len(sum.Tables) != 3 {
			t.Errorf("%s summary: %s", fn, out.String())
		}
	}
	// Redelivered, as CloudWatch Logs redelivers a failed batch: the records already written are kept.
	for range 2 {
		if err := invoke(context.Background(), []string{"waf-audit", "--event", "../../events/waf-audit/blocked-requests.json"}, &out); err != nil {
			t.Fatalf("invoke waf-audit: %v", err)
		}
	}

	err := invoke(context.Background(), []string{"authorizer", "--event", "../../events/authorizer/request-no-token.json"}, &out)
	if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Fatalf("authorizer on a request without a token: %v, want Unauthorized", err)
	}
}
