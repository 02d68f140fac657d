package audittrail_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
)

// outageS3 fails every PUT while down.
type outageS3 struct {
	audittrail.PutObjectAPI
	down atomic.Bool
}

func (o *outageS3) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if o.down.Load() {
		return nil, errors.New("injected: S3 unavailable")
	}
	return o.PutObjectAPI.PutObject(ctx, in, opts...)
}

// TestS3OutageLongerThanRetriesLosesNothing: the stream gives a batch up after its retries while S3
// is down; once S3 is back, the digest's reconciliation ships every dropped record, each once, and
// alerts about it.
func TestS3OutageLongerThanRetriesLosesNothing(t *testing.T) {
	tr := newTrail(t)
	tr.set(time.Now().UTC().Truncate(time.Minute))
	tr.traffic(t, 6)
	tr.ship(t)

	sh := tr.s.Audit.Shipper
	outage := &outageS3{PutObjectAPI: sh.S3}
	outage.down.Store(true)
	sh.S3 = outage
	tr.traffic(t, 9)
	var err error
	for range 1 + tr.s.Audit.MaxRetries { // the first attempt and every retry fail
		_, err = tr.s.Audit.ShipNow(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "dropped") {
		t.Fatalf("the last retry: %v, want the batch dropped", err)
	}
	outage.down.Store(false)
	tr.ship(t) // the stream has nothing left for the shipper
	table, files := tr.tableIDs(t), tr.eventIDs(t)
	lost := 0
	for id := range table {
		if files[id] == 0 {
			lost++
		}
	}
	if lost == 0 {
		t.Fatal("the outage dropped nothing: the test does not exercise the reconciliation")
	}

	tr.set(time.Now().Add(audittrail.DefaultGrace + 10*time.Minute))
	if _, err := tr.s.Audit.DigestNow(context.Background()); err != nil {
		t.Fatalf("digest: %v", err)
	}
	table, files = tr.tableIDs(t), tr.eventIDs(t)
	for id := range table {
		if files[id] != 1 {
			t.Errorf("event %s is in the log files %d times, want once", id, files[id])
		}
	}
	if len(files) != len(table) {
		t.Errorf("%d distinct events in S3, %d in the table", len(files), len(table))
	}
	if !strings.Contains(stacktest.Logs.String(), "were in no log file") {
		t.Error("the reconciliation raised no alert")
	}

	// A second run finds nothing more to ship.
	tr.set(tr.now().Add(time.Hour))
	if _, err := tr.s.Audit.DigestNow(context.Background()); err != nil {
		t.Fatalf("digest: %v", err)
	}
	for id, n := range tr.eventIDs(t) {
		if n != 1 {
			t.Errorf("event %s shipped %d times", id, n)
		}
	}
}
