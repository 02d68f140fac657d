package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/ratelimit"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	cardwiring "github.com/vaultbill/vaultbill/shared/wiring/cards"
)

// serveTokens rewires the stack's tokens function over limiter, so the gateway serves it.
func serveTokens(t *testing.T, s *devstack.Stack, limiter tokens.CardAttempts) {
	t.Helper()
	svc, err := wiring.Service(s.Env, routes.Tokens)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(s.Env.AWS)
	tokens.Routes(svc, tokens.Deps{Vault: cardwiring.Vault(s.Env, db), Attempts: limiter, Customers: db, BillingTable: s.Env.Config.BillingTable})
	s.Gateway.Functions[routes.Tokens] = svc.Serve
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// TestPerCustomerLimitHoldsAcrossPrincipals: two principals share one customer's budget, while each
// keeps the rest of their own for other customers.
func TestPerCustomerLimitHoldsAcrossPrincipals(t *testing.T) {
	a := newAttackStack(t)
	target, other := a.customer("Target"), a.customer("Other")
	ann, ben := a.token("payments", "ann", ""), a.token("payments", "ben", "")
	cards := middles("400000", "0002", 40)
	try := func(who, customer, number string) (*http.Response, string) {
		return stacktest.Do(t, a.s, "POST", "/v1/tokens", who, tokenizeBody(customer, number, 10, 2035))
	}
	for i := range 16 {
		if resp, body := try(ann, target, cards[i]); resp.StatusCode != http.StatusCreated {
			t.Fatalf("ann's attempt %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	for i := 16; i < ratelimit.Defaults.Attempts; i++ {
		if resp, body := try(ben, target, cards[i]); resp.StatusCode != http.StatusCreated {
			t.Fatalf("ben's attempt %d: %d %s", i-15, resp.StatusCode, body)
		}
	}
	resp, body := try(ben, target, cards[35])
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, `"reason":"customer_limit"`) || resp.Header.Get("Retry-After") == "" {
		t.Errorf("attempt %d on the customer: %d %s, want 429 customer_limit with Retry-After", ratelimit.Defaults.Attempts+1, resp.StatusCode, body)
	}
	if resp, body := try(ann, other, cards[36]); resp.StatusCode != http.StatusCreated {
		t.Errorf("ann on another customer: %d %s, want 201 (16 of her 30 used)", resp.StatusCode, body)
	}
}

// TestThrottleIsNotReplayedAndEndsWithTheWindow: a 429 is not kept as the outcome of its
// Idempotency-Key; after Retry-After the same request succeeds.
func TestThrottleIsNotReplayedAndEndsWithTheWindow(t *testing.T) {
	a := newAttackStack(t)
	clk := &clock{t: time.Date(2026, 6, 1, 12, 0, 30, 0, time.UTC)}
	db := dynamodb.NewFromConfig(a.s.Env.AWS)
	serveTokens(t, a.s, &ratelimit.Limiter{DB: db, Table: a.s.Env.Config.BillingTable,
		Config: ratelimit.Config{Attempts: 2, Window: time.Minute}, Clock: clk.Now})
	cus := a.customer("Patient")
	pat := a.token("payments", "pat", "")
	cards := middles("555555", "4444", 3)
	for i := range 2 {
		if resp, body := stacktest.Do(t, a.s, "POST", "/v1/tokens", pat, tokenizeBody(cus, cards[i], 1, 2036)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("attempt %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	for range 2 {
		resp, body := stacktest.Do(t, a.s, "POST", "/v1/tokens", pat, tokenizeBody(cus, cards[2], 1, 2036), "Idempotency-Key", "third")
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" || resp.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("over the limit: %d Retry-After %q replayed %q %s; want 429, Retry-After 30, not a replay",
				resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Idempotent-Replayed"), body)
		}
	}
	clk.Add(30 * time.Second)
	resp, body := stacktest.Do(t, a.s, "POST", "/v1/tokens", pat, tokenizeBody(cus, cards[2], 1, 2036), "Idempotency-Key", "third")
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("after Retry-After: %d %s, want 201", resp.StatusCode, body)
	}
}

// failingDB is a DynamoDB that fails every call.
type failingDB struct{ err error }

func (f failingDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, f.err
}

// TestLimiterFailsClosed: when the counters cannot be written, no card is looked at: 503 and nothing
// stored in the vault.
func TestLimiterFailsClosed(t *testing.T) {
	a := newAttackStack(t)
	cus := a.customer("Unlucky")
	pay := a.token("payments", "pam", "")
	for name, err := range map[string]error{
		"DynamoDB error": &types.InternalServerError{Message: aws.String("boom")},
		"throttled":      &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")},
		"network":        errors.New("dial tcp: connection refused"),
	} {
		t.Run(name, func(t *testing.T) {
			serveTokens(t, a.s, &ratelimit.Limiter{DB: failingDB{err}, Table: a.s.Env.Config.BillingTable, Config: ratelimit.Defaults})
			resp, body := stacktest.Do(t, a.s, "POST", "/v1/tokens", pay, tokenizeBody(cus, "4242424242424242", 12, 2034))
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"service_unavailable"`) {
				t.Errorf("%d %s, want 503 service_unavailable", resp.StatusCode, body)
			}
		})
	}
	out, err := dynamodb.NewFromConfig(a.s.Env.AWS).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(a.s.Env.Config.VaultTable)})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range out.Items {
		if pk, _ := item[resources.PK].(*types.AttributeValueMemberS); pk != nil && (strings.HasPrefix(pk.Value, "TOK#") || strings.HasPrefix(pk.Value, "CUS#")) {
			t.Errorf("the vault holds a token or card guard (%s) after refused attempts", pk.Value)
		}
	}
}

// TestCountersExpireAndCostOneWriteEach: an attempt is one single-item write per counter (not a
// transaction, which bills each item twice); its counter items carry the table's TTL attribute set
// to the end of their window, and the table expires items by it.
func TestCountersExpireAndCostOneWriteEach(t *testing.T) {
	s := stacktest.New(t)
	ctx := context.Background()
	cfg, calls := stacktest.CountCalls(s.Env.AWS)
	now := time.Date(2026, 6, 1, 12, 7, 0, 0, time.UTC)
	l := &ratelimit.Limiter{DB: dynamodb.NewFromConfig(cfg), Table: s.Env.Config.BillingTable, Config: ratelimit.Defaults,
		Clock: func() time.Time { return now }}
	cus := billing.NewID(billing.CustomerPrefix)
	if err := l.Attempt(ctx, "pia", cus); err != nil {
		t.Fatal(err)
	}
	if err := l.Attempt(ctx, "pia", "cus_not-an-id"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"DynamoDB UpdateItem": 3}, calls.Take()); diff != "" {
		t.Errorf("calls of two attempts (-want +got):\n%s", diff)
	}

	end := time.Date(2026, 6, 1, 12, 10, 0, 0, time.UTC)
	for pk, want := range map[string]string{"RATE#principal#pia": "2", "RATE#customer#" + cus: "1"} {
		if n, exp := counterItem(t, s, pk, now); n != want || exp != strconv.FormatInt(end.Unix(), 10) {
			t.Errorf("counter %s: n=%s %s=%s, want n=%s and the window's end %d", pk, n, resources.ExpiresAt, exp, want, end.Unix())
		}
	}
	db := dynamodb.NewFromConfig(s.Env.AWS)
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.Env.Config.BillingTable)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != resources.ExpiresAt || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("billing table TTL %+v, want %s enabled", d, resources.ExpiresAt)
	}
}

// TestRetryAfterCountsToTheWindowEnd pins the refusal: code, reason and the wait until the window ends.
func TestRetryAfterCountsToTheWindowEnd(t *testing.T) {
	s := stacktest.New(t)
	now := time.Date(2026, 6, 1, 12, 9, 15, 500e6, time.UTC)
	l := &ratelimit.Limiter{DB: dynamodb.NewFromConfig(s.Env.AWS), Table: s.Env.Config.BillingTable,
		Config: ratelimit.Config{Attempts: 1, Window: 10 * time.Minute}, Clock: func() time.Time { return now }}
	if err := l.Attempt(context.Background(), "quinn", ""); err != nil {
		t.Fatal(err)
	}
	err := l.Attempt(context.Background(), "quinn", "")
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Code != problem.RateLimited || pe.Reason != ratelimit.ReasonPrincipal || problem.Seconds(pe.RetryAfter) != 45 {
		t.Errorf("second attempt: %#v, want rate_limited, principal_limit, retry in 45 s", err)
	}
}

func TestConfigFrom(t *testing.T) {
	lookup := func(env map[string]string) config.Config { return config.From(func(k string) string { return env[k] }) }
	got, err := ratelimit.ConfigFrom(lookup(nil))
	if err != nil || got != ratelimit.Defaults || got != (ratelimit.Config{Attempts: 30, Window: 10 * time.Minute}) {
		t.Errorf("defaults: %+v %v", got, err)
	}
	got, err = ratelimit.ConfigFrom(lookup(map[string]string{config.EnvCardAttemptLimit: "5", config.EnvCardAttemptWindow: "1h"}))
	if err != nil || got != (ratelimit.Config{Attempts: 5, Window: time.Hour}) {
		t.Errorf("set: %+v %v", got, err)
	}
	for _, bad := range []map[string]string{
		{config.EnvCardAttemptLimit: "0"}, {config.EnvCardAttemptLimit: "many"},
		{config.EnvCardAttemptWindow: "500ms"}, {config.EnvCardAttemptWindow: "1.5s"}, {config.EnvCardAttemptWindow: "soon"},
	} {
		if _, err := ratelimit.ConfigFrom(lookup(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// BenchmarkAttempt is the limiter's own cost per tokenize or pay: one transaction of the principal's
// and the customer's counters, against the emulator. It reports the median and the calls per op.
func BenchmarkAttempt(b *testing.B) {
	s := stacktest.New(b)
	cfg, calls := stacktest.CountCalls(s.Env.AWS)
	l := &ratelimit.Limiter{DB: dynamodb.NewFromConfig(cfg), Table: s.Env.Config.BillingTable,
		Config: ratelimit.Config{Attempts: 1 << 30, Window: time.Hour}}
	cus := billing.NewID(billing.CustomerPrefix)
	ctx := context.Background()
	if err := l.Attempt(ctx, "bench", cus); err != nil {
		b.Fatal(err)
	}
	calls.Reset()
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := l.Attempt(ctx, "bench", cus); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(calls.Service("DynamoDB"))/float64(b.N), "dynamodb-calls/op")
}

// TestLostAnswerCountsOnce: a count DynamoDB applied but whose answer was lost (a connection reset)
// is retried by the SDK. The retry must neither count the attempt again nor, when the attempt took
// the window's last slot, refuse the attempt it already counted.
func TestLostAnswerCountsOnce(t *testing.T) {
	s := stacktest.New(t)
	ctx := context.Background()
	cfg, faults := stacktest.InjectFaults(s.Env.AWS, 1)
	now := time.Date(2026, 6, 1, 12, 7, 0, 0, time.UTC)
	l := &ratelimit.Limiter{DB: dynamodb.NewFromConfig(cfg), Table: s.Env.Config.BillingTable,
		Config: ratelimit.Config{Attempts: 2, Window: 10 * time.Minute}, Clock: func() time.Time { return now }}
	lose := stacktest.FaultRule{Service: "DynamoDB", Operation: "UpdateItem", P: 1, Faults: []stacktest.Fault{stacktest.Drop}, Limit: 1}
	for i, who := range []string{"first", "last"} {
		faults.Set(lose)
		if err := l.Attempt(ctx, "pia", ""); err != nil {
			t.Fatalf("the %s attempt of the window, its answer lost once: %v", who, err)
		}
		if n := faults.Total(); n != i+1 {
			t.Fatalf("%d faults injected, want one lost answer per attempt", n)
		}
		if n, _ := counterItem(t, s, "RATE#principal#pia", now); n != strconv.Itoa(i+1) {
			t.Errorf("after the %s attempt the counter is %s, want %d", who, n, i+1)
		}
	}
	faults.Off()
	var p *problem.Error
	if err := l.Attempt(ctx, "pia", ""); !errors.As(err, &p) || p.Code != problem.RateLimited {
		t.Errorf("an attempt over the limit: %v, want it refused", err)
	}
}

// counterItem reads the count and expiry of the counter at pk for the window holding at.
func counterItem(t *testing.T, s *devstack.Stack, pk string, at time.Time) (n, expires string) {
	t.Helper()
	start := at.Truncate(10 * time.Minute)
	out, err := dynamodb.NewFromConfig(s.Env.AWS).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.Env.Config.BillingTable), Key: map[string]types.AttributeValue{
		resources.PK: &types.AttributeValueMemberS{Value: pk},
		resources.SK: &types.AttributeValueMemberS{Value: "W#" + strconv.FormatInt(start.Unix(), 10)},
	}})
	if err != nil || out.Item == nil {
		t.Fatalf("counter %s: %v %v", pk, out, err)
	}
	if v, ok := out.Item["n"].(*types.AttributeValueMemberN); ok {
		n = v.Value
	}
	if v, ok := out.Item[resources.ExpiresAt].(*types.AttributeValueMemberN); ok {
		expires = v.Value
	}
	return n, expires
}
