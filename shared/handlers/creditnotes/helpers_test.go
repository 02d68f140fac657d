package creditnotes_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
type client = stacktest.Client

var newClient = stacktest.NewClient

// clock is the real time, moved forward by what a test skips (a lease).
type clock = stacktest.Clock

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

// paid opens an invoice and pays it with number; it returns the paid invoice and its payment.
func (cs *cnStack) paid(customerID, number string) (billing.Invoice, billing.Payment) {
	inv := cs.billing.Open(customerID)
	var res payments.PayResponse
	cs.pay.Must(200, "POST", "/v1/invoices/"+inv.ID+"/pay", fmt.Sprintf(`{"token":%q}`, cs.pay.Tokenize(customerID, number)), &res)
	return *res.Invoice, *res.Payment
}

func creditBody(amount int64, reason string) string {
	return fmt.Sprintf(`{"amount":%d,"reason":%q}`, amount, reason)
}

// credit posts a credit note on an invoice as c.
func credit(c *client, invoiceID string, amount int64, headers ...string) (int, string) {
	c.T.Helper()
	return c.Do("POST", "/v1/invoices/"+invoiceID+"/credit-notes", creditBody(amount, "order_change"), headers...)
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
		cn, err := stacktest.BillingStore(cs.s).GetCreditNote(context.Background(), item["id"].(*types.AttributeValueMemberS).Value)
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

// faultyDB is the function's DynamoDB client with injected faults (stacktest.FaultyDB).
type faultyDB = stacktest.FaultyDB

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
