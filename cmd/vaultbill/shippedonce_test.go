package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	auditrec "github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// TestAuditStreamShippedOnce runs CLI commands that start the local stack (and write audit records)
// between restarts of `vaultbill dev`: only dev consumes the audit stream, resuming where it stopped,
// so every record is in exactly one log file.
func TestAuditStreamShippedOnce(t *testing.T) {
	endpoint := stacktest.Endpoint(t)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("VAULTBILL_STATE", t.TempDir())
	t.Setenv("AUDIT_BUCKET", "")
	ctx := context.Background()

	var env wiring.Env
	dev := func() {
		t.Helper()
		o := devOptions(endpoint, "0")
		o.Log, o.Metrics, o.Progress = nil, io.Discard, nil
		s, err := devstack.Start(ctx, o)
		if err != nil {
			t.Fatalf("start dev: %v", err)
		}
		env = s.Env
		s.Stop() // drains the stream, as a stopping dev does
	}
	commands := func() {
		t.Helper()
		var out bytes.Buffer
		for _, args := range [][]string{
			{"me", "--event", "../../events/me/get-me.json"},
			{"backup", "--event", "../../events/backup/scheduled.json"},
		} {
			if err := invoke(ctx, args, &out); err != nil {
				t.Fatalf("invoke %v: %v", args, err)
			}
		}
	}
	dev()
	commands()
	commands()
	dev()
	commands()
	dev()
	dev()

	files := map[string]int{}
	api := s3client.New(env.AWS)
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(env.Config.AuditBucket), Prefix: aws.String("AWSLogs/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if _, ok := audittrail.LogKeyTime(*o.Key); !ok {
				continue
			}
			obj, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(env.Config.AuditBucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			gz, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			body, err := audittrail.Gunzip(gz)
			if err != nil {
				t.Fatal(err)
			}
			ids, _, _, err := audittrail.ParseLogFile(body)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				files[id]++
			}
		}
	}
	for id, n := range files {
		if n != 1 {
			t.Errorf("event %s is in the log files %d times", id, n)
		}
	}
	scan := dynamodb.NewScanPaginator(dynamodb.NewFromConfig(env.AWS), &dynamodb.ScanInput{TableName: aws.String(env.Config.AuditTable)})
	records := 0
	for scan.HasMorePages() {
		page, err := scan.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			if _, ledger := item[audittrail.KindAttr]; ledger {
				continue
			}
			rec, err := auditrec.Decode(item)
			if err != nil {
				t.Fatal(err)
			}
			records++
			if files[rec.EventID] == 0 {
				t.Errorf("event %s (%s) was never shipped", rec.EventID, rec.EventName)
			}
		}
	}
	if records < 6 {
		t.Errorf("%d audit records, want at least the commands' 6", records)
	}
}
