package wafaudit_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/handlers/wafaudit"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	wafauditwiring "github.com/vaultbill/vaultbill/shared/wiring/wafaudit"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// sampleEvent is the subscription event of events/waf-audit (shared with vaultbill invoke and the
// runtime harness): an SQLi block, a rate-rule block carrying a JWT in its user agent, a block on a
// path holding a card number, and a block on a path the API does not serve.
func sampleEvent(t *testing.T) events.CloudwatchLogsEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "waf-audit", "blocked-requests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.CloudwatchLogsEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// summary is what a reviewer reads in a WAF block's record.
type summary struct {
	Name, Code, IP, RequestID string
	Params                    map[string]string
}

func summarize(recs []audit.Record) []summary {
	var out []summary
	for _, r := range recs {
		out = append(out, summary{r.EventName, r.ErrorCode, r.SourceIPAddress, r.RequestID, r.RequestParameters})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RequestID < out[j].RequestID })
	return out
}

// TestBlockedRequestsAreAudited feeds the WAF log subscription's event to the function against the
// emulator: every block leaves one record in the outbox and, once shipped, in the trail; no card number
// or token reaches either; a redelivered batch writes nothing twice.
func TestBlockedRequestsAreAudited(t *testing.T) {
	s := stacktest.New(t)
	ctx := context.Background()
	a, err := wafauditwiring.New(s.Env)
	if err != nil {
		t.Fatal(err)
	}
	ev := sampleEvent(t)
	if err := a.Handle(ctx, ev); err != nil {
		t.Fatalf("handle: %v", err)
	}
	want := []summary{
		{"GetInvoice", "forbidden", "198.51.100.7", "Zc1sQGtxjoEFfVg=", map[string]string{"id": "inv_abcdefghijklmnopqrstuvwxyz"}},
		{"PayInvoice", "rate_limited", "203.0.113.9", "Zc1sQHt8joEFfWg=", map[string]string{"id": "inv_bcdefghijklmnopqrstuvwxyza"}},
		{"GetToken", "forbidden", "192.0.2.44", "Zc1sQIu2joEFfXg=", map[string]string{"id": "[REDACTED:PAN]"}},
		{"BlockedRequest", "forbidden", "192.0.2.45", "Zc1sQJv3joEFfYg=", map[string]string{}},
	}
	sort.Slice(want, func(i, j int) bool { return want[i].RequestID < want[j].RequestID })
	outbox := outboxRecords(t, s)
	if diff := cmp.Diff(want, summarize(outbox)); diff != "" {
		t.Errorf("outbox records (-want +got):\n%s", diff)
	}
	for _, r := range outbox {
		if r.EventSource != wafaudit.EventSource || r.EventType != audit.TypeAPICall || r.UserIdentity.Type != "Unknown" ||
			!strings.Contains(r.ErrorMessage, "blocked by WAF rule ") || r.EventTime == "" {
			t.Errorf("record %s: %+v", r.RequestID, r)
		}
		body, _ := json.Marshal(r)
		for _, secret := range []string{"eyJ", "4111", "OR 1=1", "customer_id"} {
			if bytes.Contains(body, []byte(secret)) {
				t.Errorf("record %s holds %q: %s", r.RequestID, secret, body)
			}
		}
	}

	// CloudWatch Logs redelivers a batch when an invocation fails: nothing is written twice.
	if err := a.Handle(ctx, ev); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if n := len(outboxRecords(t, s)); n != len(want) {
		t.Errorf("after a redelivery the outbox holds %d records, want %d", n, len(want))
	}

	if _, err := s.Audit.ShipNow(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, summarize(trailRecords(t, s))); diff != "" {
		t.Errorf("trail records (-want +got):\n%s", diff)
	}
	if found := stacktest.CardNumbersAtRest(t, s); len(found) > 0 {
		t.Errorf("card numbers at rest: %v", found)
	}
}

func outboxRecords(t *testing.T, s *devstack.Stack) []audit.Record {
	t.Helper()
	out, err := dynamodb.NewFromConfig(s.Env.AWS).Scan(context.Background(), &dynamodb.ScanInput{
		TableName: aws.String(s.Env.Config.AuditTable), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("scan audit table: %v", err)
	}
	var recs []audit.Record
	for _, item := range out.Items {
		rec, err := audit.Decode(item)
		if err != nil {
			t.Fatal(err)
		}
		if rec.EventSource == wafaudit.EventSource {
			recs = append(recs, rec)
		}
	}
	return recs
}

// trailRecords reads every WAF record of the trail's log files.
func trailRecords(t *testing.T, s *devstack.Stack) []audit.Record {
	t.Helper()
	ctx := context.Background()
	c := s3client.New(s.Env.AWS)
	bucket := aws.String(s.Env.Config.AuditBucket)
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	for _, o := range list.Contents {
		if !strings.Contains(aws.ToString(o.Key), "/CloudTrail/") {
			continue
		}
		obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(obj.Body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		obj.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var file struct{ Records []audit.Record }
		if err := json.Unmarshal(b, &file); err != nil {
			t.Fatalf("%s: %v", aws.ToString(o.Key), err)
		}
		for _, r := range file.Records {
			if r.EventSource == wafaudit.EventSource {
				recs = append(recs, r)
			}
		}
	}
	return recs
}
