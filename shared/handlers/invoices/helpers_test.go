package invoices_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	invoiceswiring "github.com/vaultbill/vaultbill/shared/wiring/invoices"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// client talks to one local stack as one principal.
type client struct {
	t     testing.TB
	s     *devstack.Stack
	token string
}

func newClient(t testing.TB, s *devstack.Stack, role, customerID string) *client {
	t.Helper()
	return &client{t: t, s: s, token: stacktest.Token(t, s, devstack.TokenSpec{Role: role, CustomerID: customerID, Subject: role + "-" + customerID})}
}

// do sends a request and returns the status, the body and the response.
func (c *client) do(method, path, body string, headers ...string) (int, string, *http.Response) {
	c.t.Helper()
	resp, b := stacktest.Do(c.t, c.s, method, path, c.token, body, headers...)
	return resp.StatusCode, b, resp
}

// must sends a request that has to answer want and decodes its body into out (when not nil).
func (c *client) must(want int, method, path, body string, out any) {
	c.t.Helper()
	status, b, _ := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: %d, want %d; body %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			c.t.Fatalf("%s %s: body %s: %v", method, path, b, err)
		}
	}
}

func (c *client) customer(name string) billing.Customer {
	c.t.Helper()
	var cus billing.Customer
	c.must(201, "POST", "/v1/customers", fmt.Sprintf(`{"name":%q,"email":"%s@example.com"}`, name, strings.ToLower(strings.ReplaceAll(name, " ", "."))), &cus)
	return cus
}

func (c *client) draft(customerID string) billing.Invoice {
	c.t.Helper()
	var inv billing.Invoice
	c.must(201, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900}]}`, customerID), &inv)
	return inv
}

type problemBody struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func decodeProblem(t testing.TB, body string) problemBody {
	t.Helper()
	var p problemBody
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("not problem+json: %s", body)
	}
	return p
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
