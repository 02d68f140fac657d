package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestAuditCommands ships the sample stream batch, writes digests as the schedule and the CLI do, and
// validates the local trail as an operator would.
func TestAuditCommands(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", stacktest.Endpoint(t))
	t.Setenv("VAULTBILL_STATE", t.TempDir())
	t.Setenv("AUDIT_BUCKET", "")
	ctx := context.Background()

	var out bytes.Buffer
	if err := invoke(ctx, []string{"audit-shipper", "--event", "../../events/audit-shipper/insert-batch.json"}, &out); err != nil {
		t.Fatalf("invoke audit-shipper: %v", err)
	}
	var resp struct {
		BatchItemFailures []any `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("audit-shipper response: %s", out.String())
	}
	out.Reset()
	if err := invoke(ctx, []string{"audit-digest", "--event", "../../events/audit-digest/hourly.json"}, &out); err != nil {
		t.Fatalf("invoke audit-digest: %v", err)
	}
	if !strings.Contains(out.String(), "CloudTrail-Digest") {
		t.Errorf("audit-digest wrote no digest: %s", out.String())
	}

	var stdout, stderr bytes.Buffer
	if err := audit(ctx, []string{"digest"}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "wrote s3://") {
		t.Fatalf("audit digest: %v: %s", err, stdout.String())
	}
	stdout.Reset()
	start := time.Now().UTC().Add(-48 * time.Hour).Format(time.DateOnly)
	if err := audit(ctx, []string{"validate", "--start-time", start, "--verbose"}, &stdout, &stderr); err != nil {
		t.Fatalf("audit validate: %v\n%s", err, stdout.String())
	}
	if got := stdout.String(); !strings.Contains(got, "Digest file\ts3://vaultbill-audit/AWSLogs/") || strings.Contains(got, "INVALID") {
		t.Errorf("validate output:\n%s", got)
	}
	if !strings.Contains(stderr.String(), "checked ") {
		t.Errorf("no progress lines off a terminal: %q", stderr.String())
	}

	for _, args := range [][]string{{"validate"}, {"validate", "--start-time", "last tuesday"}, {"shred"}, {}} {
		if err := audit(ctx, args, &stdout, &stderr); err == nil {
			t.Errorf("audit %v succeeded", args)
		}
	}
}
