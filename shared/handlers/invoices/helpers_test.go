package invoices_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	invoiceswiring "github.com/vaultbill/vaultbill/shared/wiring/invoices"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// client talks to one local stack as one principal.
type client = stacktest.Client

var newClient = stacktest.NewClient

// decodeProblem parses a problem+json body or fails the test.
func decodeProblem(t testing.TB, body string) stacktest.Problem {
	t.Helper()
	return stacktest.Decode[stacktest.Problem](t, body)
}

func scan(t testing.TB, s *devstack.Stack, table string) []map[string]types.AttributeValue {
	t.Helper()
	return stacktest.Items(t, s, table)
}

func auditRecords(t testing.TB, s *devstack.Stack) []audit.Record {
	t.Helper()
	return stacktest.AuditRecords(t, s)
}

// billingItems returns the billing table's items except idempotency records.
func billingItems(t testing.TB, s *devstack.Stack) []map[string]types.AttributeValue {
	var out []map[string]types.AttributeValue
	for _, it := range scan(t, s, s.Env.Config.BillingTable) {
		if pk, _ := it["pk"].(*types.AttributeValueMemberS); pk != nil && !strings.HasPrefix(pk.Value, "IDEM#") {
			out = append(out, it)
		}
	}
	return out
}

// rewire rebuilds the stack's invoices function from env, e.g. with an instrumented SDK client.
func rewire(t testing.TB, s *devstack.Stack, env wiring.Env) *endpoint.Service {
	t.Helper()
	svc, err := wiring.API(env, routes.Invoices, invoiceswiring.Register)
	if err != nil {
		t.Fatal(err)
	}
	s.Gateway.Functions[routes.Invoices] = svc.Serve
	return svc
}

// concurrentStack is a stack for concurrency tests. The local stack already makes each DynamoDB call to
// moto atomic (devstack.AWSConfig), as DynamoDB is.
func concurrentStack(t testing.TB) *devstack.Stack { return stacktest.New(t) }

func decodeInto(t testing.TB, body string, v any) error {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return nil
}

// countPrefix counts billing items whose pk starts with prefix.
func countPrefix(t testing.TB, s *devstack.Stack, prefix string) int {
	n := 0
	for _, it := range billingItems(t, s) {
		if pk, _ := it["pk"].(*types.AttributeValueMemberS); pk != nil && strings.HasPrefix(pk.Value, prefix) {
			n++
		}
	}
	return n
}
