package wafaudit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/vaultbill/vaultbill/shared/audit"
	"github.com/vaultbill/vaultbill/shared/wafaudit"
)

type failingStore struct{ puts int }

func (f *failingStore) Put(context.Context, audit.Record) error {
	f.puts++
	return errors.New("dynamodb unavailable")
}

// TestAuditFailureFailsTheInvocation: when the outbox cannot be written the invocation fails, so Lambda
// retries the batch instead of dropping the records; every line is still attempted.
func TestAuditFailureFailsTheInvocation(t *testing.T) {
	store := &failingStore{}
	a := &wafaudit.Auditor{Audit: store}
	if err := a.Handle(context.Background(), sampleEvent(t)); err == nil {
		t.Fatal("Handle succeeded although no record could be written")
	}
	if store.puts != 4 {
		t.Errorf("%d puts, want one per blocked request (4)", store.puts)
	}
}

// TestRecordOfCustomDomainURI: on a custom domain the URI has no stage; the route is found all the same,
// and the query string never becomes a parameter.
func TestRecordOfCustomDomainURI(t *testing.T) {
	l := wafaudit.Log{Timestamp: 1764385200123, Action: "BLOCK", TerminatingRuleID: "AWS-AWSManagedRulesSQLiRuleSet",
		HTTPSourceID: "000000000000:a1b2c3d4e5:prod",
		HTTPRequest:  wafaudit.HTTPRequest{HTTPMethod: "GET", URI: "/v1/customers/cus_x?q=1", RequestID: "r1"}}
	rec := wafaudit.Record(l, "000000000000", "eu-west-1")
	if rec.EventName != "GetCustomer" || len(rec.RequestParameters) != 1 || rec.RequestParameters["id"] != "cus_x" || !rec.ReadOnly {
		t.Errorf("record %+v", rec)
	}
	if again := wafaudit.Record(l, "000000000000", "eu-west-1"); again.EventID != rec.EventID {
		t.Errorf("event IDs of one WAF request differ: %s, %s", rec.EventID, again.EventID)
	}
	l.HTTPRequest.RequestID = "r2"
	if other := wafaudit.Record(l, "000000000000", "eu-west-1"); other.EventID == rec.EventID {
		t.Error("two WAF requests share an event ID")
	}
}
