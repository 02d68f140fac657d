package wafaudit_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/handlers/wafaudit"
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

// TestBlockedHostedPageRequestKeepsItsLink: a hosted page link is a bearer secret (whoever holds it may
// see and pay the invoice). A request to it that WAF blocks (a customer paying too fast) must not
// carry the secret into the audit trail, which auditors read and which is kept for years.
func TestBlockedHostedPageRequestKeepsItsLink(t *testing.T) {
	const secret = "Zm9yZ2VkLWxpbmstc2VjcmV0LXRoYXQtaXMtbG9uZy1lbm91Z2g"
	for _, req := range []struct{ method, uri string }{
		{"GET", "/prod/pay/" + secret}, {"POST", "/prod/pay/" + secret + "/pay"}, {"POST", "/pay/" + secret + "/tokens"},
	} {
		uri := req.uri
		l := wafaudit.Log{Timestamp: 1764385200123, Action: "BLOCK", TerminatingRuleID: "RateLimit",
			TerminatingRuleType: "RATE_BASED", HTTPSourceID: "000000000000:a1b2c3d4e5:prod",
			HTTPRequest: wafaudit.HTTPRequest{HTTPMethod: req.method, URI: uri, RequestID: "r1"}}
		rec := wafaudit.Record(l, "000000000000", "eu-west-1")
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s: the audit record holds the link: %s", uri, b)
		}
		if _, ok := rec.RequestParameters["link"]; !ok || rec.EventName == wafaudit.EventNameBlocked {
			t.Errorf("%s: the record does not name the route and its link parameter: %s", uri, b)
		}
	}
}
