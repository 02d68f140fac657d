package reliability_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/adapters/idempotency"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestFlowsUnderFaults runs the API flows (customer, invoice, finalize, tokenize, pay, refunding credit
// note, pre-payment credit note, void) while one kind of fault hits DynamoDB, KMS and S3 calls at random.
// Every answer is the flow's success or a 503 service_unavailable problem (never a 500, never another
// code); the client retries a 503 with the same Idempotency-Key until it succeeds, and once faults stop,
// the same key answers exactly the same. At the end nothing partial or duplicated is stored, the money
// invariants hold and every change has its audit record.
func TestFlowsUnderFaults(t *testing.T) {
	for i, fault := range stacktest.AllFaults {
		t.Run(string(fault), func(t *testing.T) {
			sd := seed(t, 100+uint64(i))
			fs := newFaultStack(t, sd)
			fs.faults.Set(
				stacktest.FaultRule{Service: "DynamoDB", P: 0.4, Faults: []stacktest.Fault{fault}},
				stacktest.FaultRule{Service: "KMS", P: 0.5, Faults: []stacktest.Fault{fault}},
				stacktest.FaultRule{Service: "S3", P: 0.5, Faults: []stacktest.Fault{fault}},
			)
			f := &flow{fs: fs, billing: fs.token("billing"), pay: fs.token("payments"), admin: fs.token("admin")}
			cus := decode[billing.Customer](t, f.step(201, f.billing, "/v1/customers", `{"name":"Ada","email":"ada@example.com"}`)).ID
			invoice := func() billing.Invoice {
				return decode[billing.Invoice](t, f.step(201, f.billing, "/v1/invoices",
					fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900}]}`, cus)))
			}
			card := decode[struct{ ID string }](t, f.step(201, f.pay, "/v1/tokens",
				fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2034,"cvc":"123"}}`, cus, processor.TestVisa))).ID
			payBody := fmt.Sprintf(`{"token":%q}`, card)

			a, b, c := invoice(), invoice(), invoice()
			for _, inv := range []billing.Invoice{a, b, c} {
				f.step(200, f.billing, "/v1/invoices/"+inv.ID+"/finalize", "")
			}
			f.step(200, f.pay, "/v1/invoices/"+a.ID+"/pay", payBody)
			f.step(201, f.admin, "/v1/invoices/"+a.ID+"/credit-notes", `{"amount":1000,"reason":"order_change"}`)
			f.step(200, f.billing, "/v1/invoices/"+b.ID+"/void", "")
			f.step(201, f.admin, "/v1/invoices/"+c.ID+"/credit-notes", `{"amount":500,"reason":"order_change"}`)
			f.step(200, f.pay, "/v1/invoices/"+c.ID+"/pay", payBody)
			fs.faults.Off()
			t.Logf("seed %d: %d requests, %d answered 503, %d answered 409 idempotency_key_in_use; faults: %s", sd, f.requests, f.unavailable, f.inUse, fs.faults.Summary())
			if fs.faults.Total() == 0 {
				t.Fatalf("no %s fault injected", fault)
			}

			// The same keys answer the same once the faults stop.
			for _, r := range f.done {
				if status, body := fs.do(r.token, "POST", r.path, r.body, r.key); status != r.status || body != r.answer {
					t.Errorf("POST %s replayed with key %s: %d %s, want %d %s", r.path, r.key, status, body, r.status, r.answer)
				}
			}
			// Nothing duplicated, nothing partial: the flow's objects and no others.
			tb := fs.read()
			if len(tb.invoices) != 3 || len(tb.payments) != 2 || len(tb.creditNotes) != 2 {
				t.Errorf("stored %d invoices, %d payments, %d credit notes; want 3, 2, 2", len(tb.invoices), len(tb.payments), len(tb.creditNotes))
			}
			if got := tb.invoices[a.ID]; got.Status != billing.Paid || got.AmountPaid != 4758 || got.AmountRefunded != 1000 {
				t.Errorf("invoice a: %s paid %d refunded %d, want paid 4758 refunded 1000", got.Status, got.AmountPaid, got.AmountRefunded)
			}
			if got := tb.invoices[b.ID]; got.Status != billing.Void {
				t.Errorf("invoice b: %s, want void", got.Status)
			}
			if got := tb.invoices[c.ID]; got.Status != billing.Paid || got.AmountPaid != 4258 {
				t.Errorf("invoice c: %s paid %d, want paid 4258", got.Status, got.AmountPaid)
			}
			if n := len(fs.sandbox.Accepted()); n != 2 {
				t.Errorf("%d charges, want 2", n)
			}
			if broken := invariants(fs); len(broken) > 0 {
				t.Errorf("invariants broken (replay with VAULTBILL_SEED=%d):\n%s", sd, strings.Join(broken, "\n"))
			}
		})
	}
}

// flow sends a client's steps, each retried with its Idempotency-Key while it answers 503.
type flow struct {
	fs                    *faultStack
	billing, pay, admin   string
	n                     int
	requests, unavailable int
	inUse                 int
	done                  []doneStep
}

type doneStep struct {
	token, path, body, key, answer string
	status                         int
}

// maxAttempts bounds a step's retries: at the test's fault rates a step needs a few.
const maxAttempts = 30

func (f *flow) step(want int, token, path, body string) string {
	t := f.fs.t
	t.Helper()
	f.n++
	key := fmt.Sprintf("flow-%d", f.n)
	for range maxAttempts {
		f.requests++
		status, answer := f.fs.do(token, "POST", path, body, key)
		if status == want {
			f.done = append(f.done, doneStep{token: token, path: path, body: body, key: key, answer: answer, status: status})
			return answer
		}
		p := decode[struct{ Code string }](t, answer)
		if status == 409 && p.Code == "idempotency_key_in_use" {
			// The claim of an attempt that failed could not be released (the release failed too): the
			// key is the attempt's until the claim's lease ends. The client retries after it.
			f.inUse++
			f.fs.clock.Advance(idempotency.Lease + time.Second)
			continue
		}
		if status != 503 || p.Code != "service_unavailable" {
			t.Fatalf("POST %s (key %s): %d %s; want %d, or 503 service_unavailable for a dependency fault\n%s", path, key, status, answer, want, logOf(answer))
		}
		f.unavailable++
	}
	t.Fatalf("POST %s (key %s) still unavailable after %d attempts", path, key, maxAttempts)
	return ""
}

// logOf returns what the stack logged about the request that answered body, for a failure message.
func logOf(body string) string {
	var p struct {
		RequestID string `json:"request_id"`
	}
	_ = json.Unmarshal([]byte(body), &p)
	id := p.RequestID
	var lines []string
	for _, l := range strings.Split(stacktest.Logs.String(), "\n") {
		if id != "" && strings.Contains(l, id) && strings.Contains(l, `"level":"ERROR"`) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
