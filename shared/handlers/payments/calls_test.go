package payments_test

import (
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// counted wires the stack's payments function with every AWS client counted.
func counted(ps *payStack) *stacktest.Calls {
	env := ps.s.Env
	var counter *stacktest.Calls
	env.AWS, counter = stacktest.CountCalls(ps.s.Env.AWS)
	ps.env = env
	ps.wire(nil)
	return counter
}

// TestCallsPerPay pins the DynamoDB and KMS calls of a pay (the figures in billingdb's package doc),
// as upper bounds: a change that adds a round trip fails here, one that saves one passes. The first decryption of a data key costs one KMS
// Decrypt; the key is then cached (bounded age and uses), so steady-state pays make none.
func TestCallsPerPay(t *testing.T) {
	ps := newPayStack(t)
	counter := counted(ps)
	cus := ps.billing.Customer("Counted").ID
	tok := ps.pay.Tokenize(cus, processor.TestVisa)
	declined := ps.pay.Tokenize(cus, processor.TestDeclined)
	invs := make([]string, 5)
	for i := range invs {
		invs[i] = ps.billing.Open(cus).ID
	}
	counter.Take()

	type calls map[string]int
	// The two UpdateItems count the card attempt against the principal and the customer
	// (shared/adapters/ratelimit): every pay that reaches its invoice makes them, a replay does not.
	pay := calls{"DynamoDB GetItem": 2, "DynamoDB UpdateItem": 2, "DynamoDB TransactWriteItems": 2, "DynamoDB PutItem": 1}
	with := func(c calls, extra calls) calls {
		out := calls{}
		for k, v := range c {
			out[k] = v
		}
		for k, v := range extra {
			out[k] += v
		}
		return out
	}
	tests := []struct {
		name, invoice, token string
		headers              []string
		before               func()
		status               int
		want                 calls
	}{
		{"first pay of an instance (data key not cached)", invs[0], tok, nil, nil, 200, with(pay, calls{"KMS Decrypt": 1})},
		{"pay", invs[1], tok, nil, nil, 200, pay},
		{"pay with Idempotency-Key", invs[2], tok, []string{"Idempotency-Key", "k1"}, nil, 200, with(pay, calls{"DynamoDB PutItem": 1})},
		{"replayed pay", invs[2], tok, []string{"Idempotency-Key", "k1"}, nil, 200, calls{"DynamoDB PutItem": 2}},
		{"declined", invs[3], declined, nil, nil, 402, pay},
		{"refused: already paid", invs[1], tok, nil, nil, 409, calls{"DynamoDB GetItem": 1, "DynamoDB UpdateItem": 2, "DynamoDB PutItem": 1}},
		{"commit fails after the charge", invs[4], tok, nil, func() { ps.db.FailWhen(stacktest.First(1, stacktest.SettlesPaid)) }, 503,
			// The failed commit never reaches DynamoDB (the fault is injected before it); the lease cut
			// does, and the request's audit record is then written on its own.
			with(pay, calls{"DynamoDB PutItem": 1})},
		// The take-over replaces the claim; the attempt is read.
		{"recovery", invs[4], tok, nil, nil, 200, with(pay, calls{"DynamoDB GetItem": 1})},
	}
	for _, tt := range tests {
		if tt.before != nil {
			tt.before()
		}
		status, body := ps.pay.Do("POST", "/v1/invoices/"+tt.invoice+"/pay", payBody(tt.token), tt.headers...)
		if status != tt.status {
			t.Fatalf("%s: %d %s", tt.name, status, body)
		}
		got := counter.Take()
		if over := stacktest.Exceeding(tt.want, got); over != nil {
			t.Errorf("%s: AWS calls beyond the table: %v", tt.name, over)
		}
		t.Logf("%-50s %s", tt.name, stacktest.FormatCalls(got))
	}
}
