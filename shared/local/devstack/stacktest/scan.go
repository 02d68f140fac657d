package stacktest

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Items returns every item of a table of the stack, all pages.
func Items(tb testing.TB, s *devstack.Stack, table string) []map[string]types.AttributeValue {
	tb.Helper()
	db := dynamodb.NewFromConfig(s.Env.AWS)
	in := &dynamodb.ScanInput{TableName: aws.String(table)}
	var out []map[string]types.AttributeValue
	for {
		res, err := db.Scan(context.Background(), in)
		if err != nil {
			tb.Fatalf("scan %s: %v", table, err)
		}
		out = append(out, res.Items...)
		if res.LastEvaluatedKey == nil {
			return out
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// AuditRecords returns every audit record in the stack's audit table (the outbox), leaving out the
// shipper's log-file ledger items that live beside them.
func AuditRecords(tb testing.TB, s *devstack.Stack) []audit.Record {
	tb.Helper()
	var out []audit.Record
	for _, item := range Items(tb, s, s.Env.Config.AuditTable) {
		if id, ok := item[resources.AuditEventID].(*types.AttributeValueMemberS); ok && strings.HasPrefix(id.Value, audittrail.LedgerKeyPrefix) {
			continue
		}
		rec, err := audit.Decode(item)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}
