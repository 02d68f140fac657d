package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
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

func (c *client) must(want int, method, path, body string, out any) {
	c.t.Helper()
	status, b := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: %d, want %d; body %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			c.t.Fatalf("%s %s: body %s: %v", method, path, b, err)
		}
	}
}

// payStack is a local stack whose payments function runs over a sandbox the test can count, a
// DynamoDB client the test can make fail, and a clock the test can move.
type payStack struct {
	t       testing.TB
	s       *devstack.Stack
	sandbox *processor.Sandbox
	db      *faultyDB
	h       *payments.Handlers
	store   *billingdb.Store
	clock   *clock
	billing *client
	pay     *client
	// env is what the payments function is wired from (the stack's, or one with instrumented clients).
	env wiring.Env
}

// clock is the real time, moved forward by what a test skips (a claim's lease).
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

func newPayStack(t testing.TB) *payStack {
	t.Helper()
	s := stacktest.New(t)
	ps := &payStack{t: t, s: s, sandbox: processor.NewSandbox(), clock: &clock{}, env: s.Env}
	ps.wire(nil)
	ps.billing = newClient(t, s, "billing", "")
	ps.pay = newClient(t, s, "payments", "")
	return ps
}

// wire (re)builds the stack's payments function over the test's sandbox, clock and DynamoDB client,
// and over kmsClient (the stack's KMS when nil).
func (ps *payStack) wire(kmsClient envelope.KMS) {
	ps.t.Helper()
	svc, err := wiring.Service(ps.env, routes.Payments)
	if err != nil {
		ps.t.Fatal(err)
	}
	ps.db = &faultyDB{DB: svc.DB}
	svc.DB = ps.db
	c := ps.env.Config
	raw := dynamodb.NewFromConfig(ps.env.AWS)
	ps.store = &billingdb.Store{DB: raw, Table: c.BillingTable}
	var v *vault.Vault
	if kmsClient == nil {
		v = cardwiring.Vault(ps.env, raw)
	} else {
		v = vault.New(vault.Config{DB: raw, KMS: kmsClient, Table: c.VaultTable, KeyID: c.VaultKeyID, Audit: &audit.Store{DB: raw, Table: c.AuditTable}})
	}
	limiter, err := cardwiring.Limiter(ps.env, raw)
	if err != nil {
		ps.t.Fatal(err)
	}
	ps.h = payments.Routes(svc, payments.Deps{Store: ps.store, Vault: v, Processor: ps.sandbox, Attempts: limiter})
	ps.h.Clock = ps.clock.Now
	ps.s.Gateway.Functions[routes.Payments] = svc.Serve
}

// customer creates a customer through the invoices function.
func (ps *payStack) customer(name string) string {
	var cus billing.Customer
	ps.billing.must(201, "POST", "/v1/customers", fmt.Sprintf(`{"name":%q,"email":"x@example.com"}`, name), &cus)
	return cus.ID
}

// draft creates a draft of 2 × 19.99 EUR at 19% tax (total 4758) for the customer.
func (ps *payStack) draft(customerID string) billing.Invoice {
	var inv billing.Invoice
	ps.billing.must(201, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900}]}`, customerID), &inv)
	return inv
}

// open creates and finalizes an invoice.
func (ps *payStack) open(customerID string) billing.Invoice {
	inv := ps.draft(customerID)
	ps.billing.must(200, "POST", "/v1/invoices/"+inv.ID+"/finalize", "", &inv)
	return inv
}

// tokenize stores a card for the customer through the tokens function and returns its token id.
func (ps *payStack) tokenize(customerID, number string) string {
	var tok struct {
		ID string `json:"id"`
	}
	status, body := ps.pay.do("POST", "/v1/tokens", fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2034,"cvc":"123"}}`, customerID, number))
	if status != 201 && status != 200 {
		ps.t.Fatalf("tokenize: %d %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		ps.t.Fatal(err)
	}
	return tok.ID
}

func payBody(token string) string { return fmt.Sprintf(`{"token":%q}`, token) }

// reader reads the billing table for the test, with the stack's plain client.
func (ps *payStack) reader() *billingdb.Store {
	return &billingdb.Store{DB: dynamodb.NewFromConfig(ps.s.Env.AWS), Table: ps.s.Env.Config.BillingTable}
}

// invoice reads an invoice as stored, with its claim.
func (ps *payStack) invoice(id string) *billing.Invoice {
	ps.t.Helper()
	inv, err := ps.reader().Get(context.Background(), id)
	if err != nil {
		ps.t.Fatal(err)
	}
	return inv
}

func (ps *payStack) payments(invoiceID string) []billing.Payment {
	ps.t.Helper()
	list, err := ps.reader().InvoicePayments(context.Background(), invoiceID)
	if err != nil {
		ps.t.Fatal(err)
	}
	return list
}

// statuses counts payments by status.
func statuses(list []billing.Payment) map[billing.PaymentStatus]int {
	out := map[billing.PaymentStatus]int{}
	for _, p := range list {
		out[p.Status]++
	}
	return out
}

// auditRecords returns every audit record of the stack.
func (ps *payStack) auditRecords() []audit.Record {
	ps.t.Helper()
	return stacktest.AuditRecords(ps.t, ps.s)
}

type problemBody = stacktest.Problem

func decode[T any](t testing.TB, body string) T {
	t.Helper()
	return stacktest.Decode[T](t, body)
}

// faultyDB is the function's DynamoDB client with injected faults (stacktest.FaultyDB).
type faultyDB = stacktest.FaultyDB

var errInjected = stacktest.ErrInjected

// settlesPaid reports whether a transaction marks an invoice paid: the commit after a successful charge.
func settlesPaid(in *dynamodb.TransactWriteItemsInput) bool {
	for _, it := range in.TransactItems {
		if it.Update != nil && it.Update.ExpressionAttributeValues[":paid"] != nil {
			return true
		}
	}
	return false
}

// storesOutcome reports whether a transaction stores an attempt's outcome (succeeded or failed).
func storesOutcome(in *dynamodb.TransactWriteItemsInput) bool {
	for _, it := range in.TransactItems {
		if it.Put != nil && it.Put.ExpressionAttributeValues[":processing"] != nil {
			return true
		}
	}
	return false
}

// once fails the first transaction p matches, then none.
func once(p func(in *dynamodb.TransactWriteItemsInput) bool) func(in *dynamodb.TransactWriteItemsInput) bool {
	var done atomic.Bool
	return func(in *dynamodb.TransactWriteItemsInput) bool {
		return p(in) && done.CompareAndSwap(false, true)
	}
}

// failingKMS is the stack's KMS while it refuses to decrypt, as KMS does when it is throttled or down.
type failingKMS struct{ envelope.KMS }

func (failingKMS) Decrypt(context.Context, *kms.DecryptInput, ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "KMSInternalException", Message: "injected KMS outage"}
}

// assertNoCardNumber fails if a card number appears in the test binary's logs or in body.
func assertNoCardNumber(t testing.TB, body string, numbers ...string) {
	t.Helper()
	logs := stacktest.Logs.String()
	for _, n := range numbers {
		for _, form := range []string{n, n[len(n)-12:]} {
			if strings.Contains(logs, form) {
				t.Errorf("a card number appears in the logs")
			}
			if strings.Contains(body, form) {
				t.Errorf("a card number appears in a response body: %s", body)
			}
		}
	}
}

var _ = http.StatusOK
