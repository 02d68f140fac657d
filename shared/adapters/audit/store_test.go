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
