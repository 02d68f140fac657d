package audit

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/resources"
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
