// Package reliability_test runs the API under injected dependency faults and crashes, and checks the
// money invariants from the processor's own records and the tables.
package reliability_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/creditnotes"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	cardwiring "github.com/vaultbill/vaultbill/shared/wiring/cards"
	"github.com/vaultbill/vaultbill/shared/wiring/functions"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// seed is VAULTBILL_SEED when set (to replay a failure), else def.
func seed(t testing.TB, def uint64) uint64 {
	if v := os.Getenv("VAULTBILL_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("VAULTBILL_SEED=%q: %v", v, err)
		}
		return n
	}
	return def
}

// clock is the real time, moved forward by what a test skips (a lease).
type clock = stacktest.Clock

// faultStack is a local stack whose every function runs over SDK clients with injected faults, whose
// payments and credit-notes functions share one sandbox processor and one clock, and whose commits
// after the processor answered can crash.
type faultStack struct {
	t       testing.TB
	s       *devstack.Stack
	faults  *stacktest.Faults
	sandbox *processor.Sandbox
	clock   *clock
	crash   *crashDB // the payments function's writes
	crashCN *crashDB // the credit-notes function's writes
	rng     *rand.Rand
	raw     *dynamodb.Client // the test's own reader, without faults
}

func newFaultStack(t testing.TB, seed uint64) *faultStack {
	t.Helper()
	s := stacktest.New(t)
	cfg, faults := stacktest.InjectFaults(s.Env.AWS, seed)
	fs := &faultStack{
		t: t, s: s, faults: faults, sandbox: processor.NewSandbox(), clock: &clock{},
		rng: rand.New(rand.NewPCG(seed, 1)), raw: dynamodb.NewFromConfig(s.Env.AWS),
	}
	env := s.Env
	env.AWS = cfg
	for fn, register := range functions.APIs {
		switch fn {
		case routes.Payments, routes.CreditNotes:
			continue
		}
		svc, err := wiring.API(env, fn, register)
		if err != nil {
			t.Fatal(err)
		}
		svc.Idempotency.Clock = fs.clock.Now
		s.Gateway.Functions[fn] = svc.Serve
	}
	db := dynamodb.NewFromConfig(cfg)
	store := &billingdb.Store{DB: db, Table: env.Config.BillingTable}

	svc, err := wiring.Service(env, routes.Payments)
	if err != nil {
		t.Fatal(err)
	}
	svc.Idempotency.Clock = fs.clock.Now
	fs.crash = &crashDB{DB: svc.DB, crashes: settlesPaid}
	svc.DB = fs.crash
	limiter, err := cardwiring.Limiter(env, db)
	if err != nil {
		t.Fatal(err)
	}
	// The card-attempt windows run on the test clock too: recovery moves past them, as a client that
	// was told to retry later would.
	limiter.Clock = fs.clock.Now
	ph := payments.Routes(svc, payments.Deps{Store: store, Vault: cardwiring.Vault(env, db), Processor: fs.sandbox, Attempts: limiter})
	ph.Clock = fs.clock.Now
	s.Gateway.Functions[routes.Payments] = svc.Serve

	svc, err = wiring.Service(env, routes.CreditNotes)
	if err != nil {
		t.Fatal(err)
	}
	svc.Idempotency.Clock = fs.clock.Now
	fs.crashCN = &crashDB{DB: svc.DB, crashes: issuesRefund}
	svc.DB = fs.crashCN
	ch := creditnotes.Routes(svc, creditnotes.Deps{Store: store, Processor: fs.sandbox})
	ch.Clock = fs.clock.Now
	s.Gateway.Functions[routes.CreditNotes] = svc.Serve
	return fs
}

// crashDB is a function's DynamoDB client whose commits after the processor answered fail, with a
// probability, as a crash between the processor's answer and the commit would: nothing is written.
type crashDB struct {
	endpoint.DB
	crashes func(*dynamodb.TransactWriteItemsInput) bool
	mu      sync.Mutex
	p       float64
	rng     *rand.Rand
	n       atomic.Int64
}

var errCrash = &types.InternalServerError{Message: aws.String("injected crash before the commit")}

// set makes matching commits crash with probability p, drawn from a source seeded by seed.
func (c *crashDB) set(p float64, seed uint64) {
	c.mu.Lock()
	c.p, c.rng = p, rand.New(rand.NewPCG(seed, 2))
	c.mu.Unlock()
}

func (c *crashDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.mu.Lock()
	crash := c.p > 0 && c.crashes(in) && c.rng.Float64() < c.p
	c.mu.Unlock()
	if crash {
		c.n.Add(1)
		return nil, errCrash
	}
	return c.DB.TransactWriteItems(ctx, in, opts...)
}

// The commits after the processor answered: the ones a crash interrupts.
var (
	settlesPaid  = stacktest.SettlesPaid
	issuesRefund = stacktest.IssuesRefund
)

// do sends one request as role with an optional Idempotency-Key and returns its status and body.
func (fs *faultStack) do(token, method, path, body, key string) (int, string) {
	var headers []string
	if key != "" {
		headers = []string{"Idempotency-Key", key}
	}
	resp, b := stacktest.Do(fs.t, fs.s, method, path, token, body, headers...)
	return resp.StatusCode, b
}

func (fs *faultStack) token(role string) string {
	return stacktest.Token(fs.t, fs.s, devstack.TokenSpec{Role: role, Subject: role + "-user"})
}

// tables is what the billing table holds, read without faults.
type tables struct {
	invoices    map[string]*billing.Invoice
	payments    map[string]*billing.Payment
	creditNotes map[string]*billing.CreditNote
}

func (fs *faultStack) read() tables {
	fs.t.Helper()
	out := tables{invoices: map[string]*billing.Invoice{}, payments: map[string]*billing.Payment{}, creditNotes: map[string]*billing.CreditNote{}}
	for _, item := range fs.scan(fs.s.Env.Config.BillingTable) {
		pk, _ := item["pk"].(*types.AttributeValueMemberS)
		sk, _ := item["sk"].(*types.AttributeValueMemberS)
		if pk == nil || sk == nil {
			continue
		}
		var err error
		switch {
		case strings.HasPrefix(pk.Value, "INV#") && sk.Value == "INV":
			var v billing.Invoice
			err = attributevalue.UnmarshalMap(item, &v)
			out.invoices[v.ID] = &v
		case strings.HasPrefix(pk.Value, "PAY#") && sk.Value == "PAY":
			var v billing.Payment
			err = attributevalue.UnmarshalMap(item, &v)
			out.payments[v.ID] = &v
		case strings.HasPrefix(pk.Value, "CN#") && sk.Value == "CN":
			var v billing.CreditNote
			err = attributevalue.UnmarshalMap(item, &v)
			out.creditNotes[v.ID] = &v
		}
		if err != nil {
			fs.t.Fatal(err)
		}
	}
	return out
}

func (fs *faultStack) scan(table string) []map[string]types.AttributeValue {
	fs.t.Helper()
	in := &dynamodb.ScanInput{TableName: aws.String(table)}
	var out []map[string]types.AttributeValue
	for {
		res, err := fs.raw.Scan(context.Background(), in)
		if err != nil {
			fs.t.Fatal(err)
		}
		out = append(out, res.Items...)
		if res.LastEvaluatedKey == nil {
			return out
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// auditRecords returns every audit record of the stack.
func (fs *faultStack) auditRecords() []audit.Record {
	fs.t.Helper()
	var out []audit.Record
	for _, item := range fs.scan(fs.s.Env.Config.AuditTable) {
		rec, err := audit.Decode(item)
		if err != nil {
			fs.t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func decode[T any](t testing.TB, body string) T {
	t.Helper()
	return stacktest.Decode[T](t, body)
}
