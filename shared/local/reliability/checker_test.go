package reliability_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/adapters/idempotency"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/adapters/ratelimit"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// checkerSeed is the fixed seed make test runs (and the regression case of what a seed found).
const checkerSeed = 20

// TestMoneyInvariants: concurrent clients create, finalize, credit, pay, retry, refund and void a few
// invoices while DynamoDB and KMS calls fail at random and commits after the processor answered crash.
// After recovery (the test clock moved past every lease, interrupted requests retried with their keys),
// the processor's records and the tables agree, nothing is charged twice, numbers are gapless, and every
// committed change has one audit record. VAULTBILL_SEED replays a run; SOAK_TIME (e.g. 5m) keeps
// running fresh random seeds for that long.
func TestMoneyInvariants(t *testing.T) {
	soak, _ := time.ParseDuration(os.Getenv("SOAK_TIME"))
	if soak <= 0 {
		runChecker(t, seed(t, checkerSeed), 8, 14)
		return
	}
	deadline := time.Now().Add(soak)
	for i := 0; time.Now().Before(deadline); i++ {
		s := rand.Uint64() >> 1
		t.Logf("soak run %d: VAULTBILL_SEED=%d", i, s)
		if !t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { runChecker(t, s, 8, 14) }) {
			return
		}
	}
}

// request is one request a client may resend with its key.
type request struct {
	kind, method, path, body, key, token string
	invoice                              string
}

func runChecker(t *testing.T, seed uint64, clients, opsPerClient int) {
	fs := newFaultStack(t, seed)
	billingTok, payTok, adminTok := fs.token("billing"), fs.token("payments"), fs.token("admin")
	status, body := fs.do(billingTok, "POST", "/v1/customers", `{"name":"Ada","email":"ada@example.com"}`, "")
	if status != 201 {
		t.Fatalf("customer: %d %s", status, body)
	}
	cus := decode[billing.Customer](t, body).ID
	status, body = fs.do(payTok, "POST", "/v1/tokens", fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2034,"cvc":"123"}}`, cus, processor.TestVisa), "")
	if status != 201 && status != 200 {
		t.Fatalf("tokenize: %d %s", status, body)
	}
	card := decode[struct{ ID string }](t, body).ID

	fs.faults.Set(
		stacktest.FaultRule{Service: "DynamoDB", P: 0.3},
		stacktest.FaultRule{Service: "KMS", P: 0.4},
		stacktest.FaultRule{Service: "S3", P: 0.4},
	)
	fs.crash.set(0.3, seed)
	fs.crashCN.set(0.3, seed+1)

	var (
		h       history
		mu      sync.Mutex
		pool    []string
		answers = map[string][]string{} // key -> 2xx bodies
		failed  []request               // answered 5xx: retried at recovery
	)
	send := func(client int, r request) (int, string) {
		status, body := fs.do(r.token, r.method, r.path, r.body, r.key)
		o := op{Client: client, Kind: r.kind, Invoice: r.invoice, Key: r.key, Status: status}
		if status >= 400 {
			o.Code = decode[struct{ Code string }](t, body).Code
		}
		h.add(o)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case status >= 500:
			if status != 503 || o.Code != "service_unavailable" {
				t.Errorf("%s answered %d %s, want 503 service_unavailable for a dependency fault\nits log:\n%s", o, status, body, logOf(body))
			}
			failed = append(failed, r)
		case status == 409 && o.Code == "idempotency_key_in_use":
			failed = append(failed, r) // its claim outlived a failed release: retried after the lease
		case status < 300:
			answers[r.key] = append(answers[r.key], body)
		}
		return status, body
	}
	create := func(client, n int) request {
		return request{kind: "create", method: "POST", path: "/v1/invoices", token: billingTok, key: fmt.Sprintf("c%d-%d", client, n),
			body: fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":%d,"unit_amount":1999,"tax_rate_bps":1900}]}`, cus, 1+n%3)}
	}

	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)+10))
			var mine []request
			for n := range opsPerClient {
				mu.Lock()
				var inv string
				if len(pool) > 0 {
					inv = pool[rng.IntN(len(pool))]
				}
				size := len(pool)
				mu.Unlock()
				key := fmt.Sprintf("c%d-%d", c, n)
				var r request
				switch k := rng.IntN(20); {
				case inv == "" || (k == 0 && size < 4):
					r = create(c, n)
				case k <= 4:
					r = request{kind: "finalize", method: "POST", path: "/v1/invoices/" + inv + "/finalize", token: billingTok}
				case k <= 10:
					r = request{kind: "pay", method: "POST", path: "/v1/invoices/" + inv + "/pay", token: payTok, body: fmt.Sprintf(`{"token":%q}`, card)}
				case k <= 15:
					r = request{kind: "credit", method: "POST", path: "/v1/invoices/" + inv + "/credit-notes", token: adminTok,
						body: fmt.Sprintf(`{"amount":%d,"reason":"order_change"}`, 1+rng.IntN(1500))}
				case k == 16:
					r = request{kind: "void", method: "POST", path: "/v1/invoices/" + inv + "/void", token: billingTok}
				default:
					if len(mine) == 0 {
						r = create(c, n)
						break
					}
					r = mine[rng.IntN(len(mine))]
					r.kind = "retry-" + strings.TrimPrefix(r.kind, "retry-")
				}
				if r.key == "" {
					r.key, r.invoice = key, inv
				}
				status, body := send(c, r)
				mine = append(mine, r)
				if r.kind == "create" && status == 201 {
					id := decode[billing.Invoice](t, body).ID
					mu.Lock()
					pool = append(pool, id)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()

	opsDone := len(h.ops)
	// Recovery: no more faults, every lease over, and every interrupted request retried with its key.
	fs.faults.Off()
	fs.crash.set(0, seed)
	fs.crashCN.set(0, seed)
	fs.clock.Advance(10 * time.Minute)
	faults, crashes := fs.faults.Summary(), fs.crash.n.Load()+fs.crashCN.n.Load()
	for _, r := range failed {
		r.kind = "recover-" + r.kind
		for range 5 {
			if status, body := send(-1, r); !retryLater(fs, status, body) {
				break
			}
		}
	}
	// Claims of attempts no request retried are recovered by the next payment request.
	for id, inv := range fs.read().invoices {
		if inv.ClaimPaymentID != "" {
			for range 3 {
				status, body := send(-1, request{kind: "recover-pay", method: "POST", path: "/v1/invoices/" + id + "/pay", token: payTok,
					body: fmt.Sprintf(`{"token":%q}`, card), key: "recover-" + id, invoice: id})
				if !retryLater(fs, status, body) {
					break
				}
			}
		}
	}

	broken := invariants(fs)
	// A retry with the same Idempotency-Key converges: every success of one key answers the same.
	for key, bodies := range answers {
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				broken = append(broken, fmt.Sprintf("key %s answered two different successes:\n%s\n%s", key, bodies[0], b))
			}
		}
	}
	t.Logf("seed %d: %d operations (%d recovery retries) by %d clients over %d invoices; %d crashes after the processor answered; faults: %s",
		seed, len(h.ops), len(h.ops)-opsDone, clients, len(pool), crashes, faults)
	if len(broken) > 0 || t.Failed() {
		t.Errorf("invariants broken (replay with VAULTBILL_SEED=%d):\n%s\nhistory:\n%s", seed, strings.Join(broken, "\n"), h.String())
	}
}

// retryLater reports whether a recovery request must be sent again, after moving the test clock just
// past what refused it: a card-attempt window (429), a claim's lease (409 idempotency_key_in_use), or a
// dependency fault (5xx, none are injected any more). The clock moves no further than needed, so
// idempotency records (kept 24 hours) never expire under a recovery.
func retryLater(fs *faultStack, status int, body string) bool {
	switch code := decode[struct{ Code string }](fs.t, body).Code; {
	case status == 429:
		fs.clock.Advance(ratelimit.Defaults.Window + time.Second)
	case status == 409 && code == "idempotency_key_in_use":
		fs.clock.Advance(idempotency.Lease + time.Second)
	case status >= 500:
	default:
		return false
	}
	return true
}
