package audit

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// TestRecordsOfOneSecondSortInWriteOrder: event times have whole seconds, yet the query API lists
// newest first, so records of the same second must sort by when they were written, not by their
// random event IDs.
func TestRecordsOfOneSecondSortInWriteOrder(t *testing.T) {
	var prev string
	for i := range 50 {
		rec := Record{EventID: NewEventID(), EventTime: "2026-11-24T05:03:41Z", EventName: "GetMe"}
		item, err := Item(rec)
		if err != nil {
			t.Fatal(err)
		}
		key := item[resources.AuditSortKey].(*types.AttributeValueMemberS).Value
		if key <= prev {
			t.Fatalf("record %d sorts before the one written earlier: %q <= %q", i, key, prev)
		}
		prev = key
	}
}

// TestStoreNeverStoresACardNumber: the writer's last check. Whatever a caller forgot to redact, a
// record holding a card number anywhere (grouped or not) is stored masked, and an alert is raised:
// an ALERT log line and an EMF metric.
func TestStoreNeverStoresACardNumber(t *testing.T) {
	var logs, metrics bytes.Buffer
	db := &capture{}
	s := &Store{DB: db, Table: "audit", Alert: &Alerter{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: &metrics}}
	recs := []Record{
		{UserAgent: "curl 4242424242424242"},
		{Resources: []Resource{{Type: "token", ID: "5555 5555 5555 4444"}}},
		{RequestParameters: map[string]string{"4242-4242-4242-4242": "x"}},
		{UserIdentity: UserIdentity{PrincipalID: "4242424242424242"}},
		{ErrorMessage: "card 4242424242424242", SourceIPAddress: "4242424242424242"},
		{ResponseElements: map[string]string{"id": "4242424242424242"}},
	}
	for i, rec := range recs {
		rec.EventID, rec.EventTime, rec.EventName = NewEventID(), "2026-11-24T05:03:41Z", "GetToken"
		if i%2 == 0 {
			if err := s.Put(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
		} else {
			item, err := s.TransactItem(rec)
			if err != nil {
				t.Fatal(err)
			}
			db.items = append(db.items, item.Put.Item)
		}
	}
	if len(db.items) != len(recs) {
		t.Fatalf("%d records stored, want %d", len(db.items), len(recs))
	}
	for i, item := range db.items {
		for k, v := range item {
			if sv, ok := v.(*types.AttributeValueMemberS); ok && logging.ContainsPAN(sv.Value) {
				t.Errorf("record %d: attribute %s holds a card number: %s", i, k, sv.Value)
			}
		}
	}
	if n := strings.Count(logs.String(), `"alert":true`); n != len(recs) {
		t.Errorf("%d alert lines, want %d: %s", n, len(recs), logs.String())
	}
	if n := strings.Count(metrics.String(), `"`+MetricCardNumbersMasked+`":1`); n != len(recs) {
		t.Errorf("%d EMF metric lines, want %d: %s", n, len(recs), metrics.String())
	}
	if strings.Contains(logs.String(), "4242") || strings.Contains(logs.String(), "5555") {
		t.Errorf("the alert echoes the card number: %s", logs.String())
	}
}

type capture struct {
	items []map[string]types.AttributeValue
}

func (c *capture) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.items = append(c.items, in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

// TestUUIDThatReadsAsACardNumberIsMaskedWithoutAlert: AWS draws request ids and KMS key ids as UUIDs,
// and about one in 300 has dash-joined decimal groups that pass the Luhn check. Such an id is masked
// like any card number, but it is no card number's way into the trail: it raises no alert, which
// would otherwise page the operator for a few requests in every thousand. A card number beside it
// still does.
func TestUUIDThatReadsAsACardNumberIsMaskedWithoutAlert(t *testing.T) {
	const id = "a8512345-6789-0123-4560-b940f31628a7" // "8512345-6789-0123-4560" passes the Luhn check
	if !logging.ContainsPAN(id) {
		t.Fatalf("%s no longer reads as a card number: pick another", id)
	}
	tests := []struct {
		name  string
		rec   Record
		alert bool
	}{
		{"request id", Record{RequestID: id}, false},
		{"KMS key ARN", Record{ResponseElements: map[string]string{"targetKeyId": "arn:aws:kms:us-east-1:123456789012:key/" + id}}, false},
		// A client may choose the request id (X-Amzn-RequestId): a card number in a UUID's shape is
		// stored masked all the same.
		{"card number in a UUID's shape", Record{RequestID: "42424242-4242-4242-aaaa-bbbbbbbbbbbb"}, false},
		{"request id and a card number", Record{RequestID: id, UserAgent: "curl 4242424242424242"}, true},
		{"a card number written in groups", Record{RequestID: "4242-4242-4242-4242"}, true},
	}
	for _, tc := range tests {
		var logs bytes.Buffer
		db := &capture{}
		s := &Store{DB: db, Table: "audit", Alert: &Alerter{Log: slog.New(slog.NewJSONHandler(&logs, nil))}}
		tc.rec.EventID, tc.rec.EventTime, tc.rec.EventName = NewEventID(), "2026-11-24T05:03:41Z", "GetMe"
		if err := s.Put(context.Background(), tc.rec); err != nil {
			t.Fatal(err)
		}
		for k, v := range db.items[0] {
			if sv, ok := v.(*types.AttributeValueMemberS); ok && logging.ContainsPAN(sv.Value) {
				t.Errorf("%s: attribute %s stored unmasked: %s", tc.name, k, sv.Value)
			}
		}
		if got := strings.Contains(logs.String(), `"alert":true`); got != tc.alert {
			t.Errorf("%s: alert %v, want %v: %s", tc.name, got, tc.alert, logs.String())
		}
	}
}
