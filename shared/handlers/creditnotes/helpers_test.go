package creditnotes_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/creditnotes"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	cardwiring "github.com/vaultbill/vaultbill/shared/wiring/cards"
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

func (c *client) do(method, path, body string, headers ...string) (int, string) {
	c.t.Helper()
	resp, b := stacktest.Do(c.t, c.s, method, path, c.token, body, headers...)
	return resp.StatusCode, b
}

func (c *client) must(want int, method, path, body string, out any, headers ...string) {
	c.t.Helper()
	status, b := c.do(method, path, body, headers...)
	if status != want {
		c.t.Fatalf("%s %s: %d, want %d; body %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			c.t.Fatalf("%s %s: body %s: %v", method, path, b, err)
		}
	}
}

// cnStack is a local stack whose payments and credit-notes functions share one sandbox processor the
// test can count (and take down), and whose credit-notes function runs over a DynamoDB client the test
// can make fail and a clock the test can move.
type cnStack struct {
	t       testing.TB
	s       *devstack.Stack
	sandbox *processor.Sandbox
	proc    *faultyProcessor
	db      *faultyDB
	h       *creditnotes.Handlers
	clock   *clock
	env     wiring.Env
	billing *client
	pay     *client
	admin   *client
}

// clock is the real time, moved forward by what a test skips (a lease).
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func newCNStack(t testing.TB) *cnStack {
	t.Helper()
	s := stacktest.New(t)
	cs := &cnStack{t: t, s: s, sandbox: processor.NewSandbox(), clock: &clock{}, env: s.Env}
	cs.proc = &faultyProcessor{Processor: cs.sandbox}
	cs.wirePayments()
	cs.wire()
	cs.billing = newClient(t, s, "billing", "")
	cs.pay = newClient(t, s, "payments", "")
	cs.admin = newClient(t, s, "admin", "")
	return cs
}

// wirePayments rebuilds the payments function over the shared sandbox.
func (cs *cnStack) wirePayments() {
	svc, err := wiring.Service(cs.s.Env, routes.Payments)
	if err != nil {
		cs.t.Fatal(err)
	}
	raw := dynamodb.NewFromConfig(cs.s.Env.AWS)
	limiter, err := cardwiring.Limiter(cs.s.Env, raw)
	if err != nil {
		cs.t.Fatal(err)
	}
	payments.Routes(svc, payments.Deps{
		Store: &billingdb.Store{DB: raw, Table: cs.s.Env.Config.BillingTable}, Vault: cardwiring.Vault(cs.s.Env, raw), Processor: cs.sandbox,
		Attempts: limiter,
	})
	cs.s.Gateway.Functions[routes.Payments] = svc.Serve
}

// wire (re)builds the credit-notes function over the test's processor, clock and DynamoDB client.
func (cs *cnStack) wire() {
	cs.t.Helper()
	svc, err := wiring.Service(cs.env, routes.CreditNotes)
	if err != nil {
		cs.t.Fatal(err)
	}
	cs.db = &faultyDB{DB: svc.DB}
	svc.DB = cs.db
	store := &billingdb.Store{DB: dynamodb.NewFromConfig(cs.env.AWS), Table: cs.env.Config.BillingTable}
	cs.h = creditnotes.Routes(svc, creditnotes.Deps{Store: store, Processor: cs.proc})
	cs.h.Clock = cs.clock.Now
	cs.s.Gateway.Functions[routes.CreditNotes] = svc.Serve
}

// customer creates a customer through the invoices function.
func (cs *cnStack) customer(name string) string {
	var cus billing.Customer
	cs.billing.must(201, "POST", "/v1/customers", fmt.Sprintf(`{"name":%q,"email":"x@example.com"}`, name), &cus)
	return cus.ID
}

// draft creates a draft of 2 × 19.99 EUR at 19% tax (total 4758) for the customer.
func (cs *cnStack) draft(customerID string) billing.Invoice {
	var inv billing.Invoice
	cs.billing.must(201, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900}]}`, customerID), &inv)
	return inv
}

// open creates and finalizes an invoice of 4758.
func (cs *cnStack) open(customerID string) billing.Invoice {
	inv := cs.draft(customerID)
	cs.billing.must(200, "POST", "/v1/invoices/"+inv.ID+"/finalize", "", &inv)
	return inv
}

// tokenize stores a card for the customer through the tokens function and returns its token id.
func (cs *cnStack) tokenize(customerID, number string) string {
	var tok struct {
		ID string `json:"id"`
	}
	status, body := cs.pay.do("POST", "/v1/tokens", fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2034,"cvc":"123"}}`, customerID, number))
	if status != 201 && status != 200 {
		cs.t.Fatalf("tokenize: %d %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		cs.t.Fatal(err)
	}
	return tok.ID
}

// paid opens an invoice and pays it with number; it returns the paid invoice and its payment.
func (cs *cnStack) paid(customerID, number string) (billing.Invoice, billing.Payment) {
	inv := cs.open(customerID)
	var res payments.PayResponse
	cs.pay.must(200, "POST", "/v1/invoices/"+inv.ID+"/pay", fmt.Sprintf(`{"token":%q}`, cs.tokenize(customerID, number)), &res)
	return *res.Invoice, *res.Payment
}

func creditBody(amount int64, reason string) string {
	return fmt.Sprintf(`{"amount":%d,"reason":%q}`, amount, reason)
}

// credit posts a credit note on an invoice as c.
func (c *client) credit(invoiceID string, amount int64, headers ...string) (int, string) {
	c.t.Helper()
	return c.do("POST", "/v1/invoices/"+invoiceID+"/credit-notes", creditBody(amount, "order_change"), headers...)
}

// reader reads the billing table for the test, with the stack's plain client.
func (cs *cnStack) reader() *billingdb.Store {
	return &billingdb.Store{DB: dynamodb.NewFromConfig(cs.s.Env.AWS), Table: cs.s.Env.Config.BillingTable}
}

// invoice reads an invoice as stored, with its reservations.
func (cs *cnStack) invoice(id string) *billing.Invoice {
	cs.t.Helper()
	inv, err := cs.reader().Get(context.Background(), id)
	if err != nil {
		cs.t.Fatal(err)
	}
	return inv
}

// notes lists every credit note of an invoice as stored, pending ones included.
func (cs *cnStack) notes(invoiceID string) []billing.CreditNote {
	cs.t.Helper()
	db := dynamodb.NewFromConfig(cs.s.Env.AWS)
	res, err := db.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(cs.s.Env.Config.BillingTable), IndexName: aws.String("gsi1"),
		KeyConditionExpression:    aws.String("gsi1pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "INV#" + invoiceID + "#CN"}},
	})
	if err != nil {
		cs.t.Fatal(err)
	}
	var out []billing.CreditNote
	for _, item := range res.Items {
		cn, err := cs.reader().GetCreditNote(context.Background(), item["id"].(*types.AttributeValueMemberS).Value)
		if err != nil {
			cs.t.Fatal(err)
		}
		out = append(out, *cn)
	}
	return out
}

// refundedSum adds up the refunds the sandbox accepted.
func refundedSum(list []processor.Refunded) int64 {
	var sum int64
	for _, r := range list {
		sum += r.Amount
	}
	return sum
}

// auditRecords returns every audit record of the stack.
func (cs *cnStack) auditRecords() []audit.Record {
	cs.t.Helper()
	return stacktest.AuditRecords(cs.t, cs.s)
}

type problemBody = stacktest.Problem

func decode[T any](t testing.TB, body string) T {
	t.Helper()
	return stacktest.Decode[T](t, body)
}

// faultyDB is the function's DynamoDB client with injected faults (stacktest.FaultyDB).
type faultyDB = stacktest.FaultyDB

var errInjected = stacktest.ErrInjected

// issuesRefund reports whether a transaction issues a refunded credit note: the commit after the
// processor accepted a refund.
func issuesRefund(in *dynamodb.TransactWriteItemsInput) bool {
	for _, it := range in.TransactItems {
		if it.Put != nil && it.Put.ExpressionAttributeValues[":pending"] != nil {
			return true
		}
	}
	return false
}

// first fails the first n transactions p matches, then none.
func first(n int64, p func(in *dynamodb.TransactWriteItemsInput) bool) func(in *dynamodb.TransactWriteItemsInput) bool {
	var done atomic.Int64
	return func(in *dynamodb.TransactWriteItemsInput) bool {
		return p(in) && done.Add(1) <= n
	}
}

// faultyProcessor is the sandbox, unreachable while down is set: a refund then fails as a network fault
// would, after the sandbox may or may not have refunded (afterRefund: it did).
type faultyProcessor struct {
	processor.Processor
	down, afterRefund atomic.Bool
}

func (f *faultyProcessor) Refund(ctx context.Context, r processor.Refund) (processor.RefundResult, error) {
	if f.down.Load() {
		if f.afterRefund.Load() {
			_, _ = f.Processor.Refund(ctx, r)
		}
		return processor.RefundResult{}, errors.New("injected processor outage")
	}
	return f.Processor.Refund(ctx, r)
}
