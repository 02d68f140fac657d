package creditnotes_test

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// counted wires the stack's credit-notes function with every AWS client counted.
func counted(cs *cnStack) *stacktest.Calls {
	var counter *stacktest.Calls
	cs.env.AWS, counter = stacktest.CountCalls(cs.s.Env.AWS)
	cs.wire()
	return counter
}

// countingProcessor counts the refunds asked of the processor.
type countingProcessor struct {
	processor.Processor
	refunds int
}

func (c *countingProcessor) Refund(ctx context.Context, r processor.Refund) (processor.RefundResult, error) {
	c.refunds++
	return c.Processor.Refund(ctx, r)
}

// TestCallsPerCreditNote pins the DynamoDB and processor calls of a credit note and of a refund (the
// figures in billingdb's doc), as upper bounds: a change that adds a round trip fails here, one that saves one passes.
func TestCallsPerCreditNote(t *testing.T) {
	cs := newCNStack(t)
	cus := cs.billing.Customer("Counted").ID
	open := cs.billing.Open(cus)
	paid, _ := cs.paid(cus, processor.TestVisa)
	refusing, _ := cs.paid(cus, processor.TestRefundFails)
	proc := &countingProcessor{Processor: cs.sandbox}
	cs.proc.Processor = proc
	counter := counted(cs)
	counter.Take()

	type calls map[string]int
	tests := []struct {
		name    string
		c       *client
		invoice string
		headers []string
		status  int
		want    calls
		refunds int
	}{
		// invoice + counter, then the transaction (counter, invoice, note, audit record).
		{"pre-payment credit note", cs.billing, open.ID, nil, 201, calls{"DynamoDB GetItem": 2, "DynamoDB TransactWriteItems": 1}, 0},
		// invoice, payment, reserve, counter, settle.
		{"refund", cs.pay, paid.ID, nil, 201, calls{"DynamoDB GetItem": 3, "DynamoDB TransactWriteItems": 2}, 1},
		// + the Idempotency-Key claim and the look-up of an earlier refund of the same request.
		{"refund with Idempotency-Key", cs.pay, paid.ID, []string{"Idempotency-Key", "calls-1"}, 201,
			calls{"DynamoDB GetItem": 3, "DynamoDB TransactWriteItems": 2, "DynamoDB PutItem": 1, "DynamoDB Query": 1}, 1},
		// invoice, payment, reserve, then the release with the refusal's audit record.
		{"refused refund", cs.pay, refusing.ID, nil, 402, calls{"DynamoDB GetItem": 2, "DynamoDB TransactWriteItems": 2}, 1},
		{"refused: draft", cs.billing, cs.billing.Draft(cus).ID, nil, 409, calls{"DynamoDB GetItem": 1, "DynamoDB PutItem": 1}, 0},
	}
	for _, tt := range tests {
		before := proc.refunds
		status, body := credit(tt.c, tt.invoice, 100, tt.headers...)
		if status != tt.status {
			t.Fatalf("%s: %d %s", tt.name, status, body)
		}
		got := counter.Take()
		if over := stacktest.Exceeding(tt.want, got); over != nil {
			t.Errorf("%s: AWS calls beyond the table: %v", tt.name, over)
		}
		if n := proc.refunds - before; n != tt.refunds {
			t.Errorf("%s: %d processor refunds, want %d", tt.name, n, tt.refunds)
		}
		t.Logf("%-30s %s + %d processor refund(s)", tt.name, stacktest.FormatCalls(got), tt.refunds)
	}
}

// creditEvent is the event API Gateway sends for POST /v1/invoices/{id}/credit-notes by role.
func creditEvent(invoiceID string, role auth.Role) events.APIGatewayProxyRequest {
	p := auth.Principal{ID: "bench-" + string(role), Username: "bench", Role: role, MFA: true}
	return events.APIGatewayProxyRequest{
		Resource: "/v1/invoices/{id}/credit-notes", Path: "/v1/invoices/" + invoiceID + "/credit-notes", HTTPMethod: "POST",
		Body: creditBody(1, "order_change"), PathParameters: map[string]string{"id": invoiceID},
		Headers: map[string]string{"Content-Type": "application/json"},
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: audit.NewEventID(), ResourcePath: "/v1/invoices/{id}/credit-notes", HTTPMethod: "POST", Authorizer: p.Context(),
		},
	}
}

// BenchmarkCreditNote is a pre-payment credit note, and BenchmarkRefund a refund of 1 cent, through
// the credit-notes handler against the emulator; each reports its AWS and processor calls per op.
func BenchmarkCreditNote(b *testing.B) { benchCredit(b, false) }

// BenchmarkRefund: see BenchmarkCreditNote.
func BenchmarkRefund(b *testing.B) { benchCredit(b, true) }

func benchCredit(b *testing.B, refund bool) {
	cs := newCNStack(b)
	cus := cs.billing.Customer("Bench").ID
	var inv string
	role := auth.Billing
	if refund {
		p, _ := cs.paid(cus, processor.TestVisa)
		inv, role = p.ID, auth.Payments
	} else {
		inv = cs.billing.Open(cus).ID
	}
	proc := &countingProcessor{Processor: cs.sandbox}
	cs.proc.Processor = proc
	counter := counted(cs)
	serve := cs.s.Gateway.Functions[routes.CreditNotes]
	ctx := context.Background()
	counter.Take()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := serve(ctx, creditEvent(inv, role))
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("credit note: %d %s %v", resp.StatusCode, resp.Body, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(counter.Service("DynamoDB"))/float64(b.N), "dynamodb-calls/op")
	b.ReportMetric(float64(proc.refunds)/float64(b.N), "processor-calls/op")
}
