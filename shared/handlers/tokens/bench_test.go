package tokens_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	tokenswiring "github.com/vaultbill/vaultbill/shared/wiring/tokens"
)

// BenchmarkTokenize runs POST /v1/tokens through the handler, wired as the function is (Register),
// against the emulator with a warm key cache: each op is a new card (no dedup shortcut) for a customer
// with a real id, so every per-request check runs. It reports the median latency and the KMS and
// DynamoDB calls per op. The card-attempt limit is raised so that the benchmark measures the limiter's
// cost, not its refusals.
func BenchmarkTokenize(b *testing.B) {
	s := stacktest.New(b)
	customer := billing.NewID(billing.CustomerPrefix)
	seedCustomer(b, s, customer)
	env := s.Env
	var calls *stacktest.Calls
	env.AWS, calls = stacktest.CountCalls(s.Env.AWS)
	base := s.Env.Config
	env.Config = config.From(func(k string) string {
		if k == config.EnvCardAttemptLimit {
			return "1000000000"
		}
		return base.Lookup(k)
	})
	env.Config.Region = base.Region
	svc, err := wiring.API(env, routes.Tokens, tokenswiring.Register)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	serve := func(i int) {
		resp, err := svc.Serve(ctx, event("POST", "/v1/tokens", "/v1/tokens", nil, paymentsUser, createBody(customer, cardNumber(i), "123")))
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("tokenize: %d %s %v", resp.StatusCode, resp.Body, err)
		}
	}
	serve(0) // warm: fingerprint key and first data key
	calls.Reset()
	b.ReportAllocs()
	var took []time.Duration
	i := 1
	for b.Loop() {
		start := time.Now()
		serve(i)
		took = append(took, time.Since(start))
		i++
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(calls.Service("KMS"))/float64(b.N), "kms-calls/op")
	b.ReportMetric(float64(calls.Service("DynamoDB"))/float64(b.N), "dynamodb-calls/op")
}

// BenchmarkTokenizeVault is the vault's share of a tokenization (fingerprint, card guard read,
// seal), against the emulator, without the HTTP runtime and the transaction.
func BenchmarkTokenizeVault(b *testing.B) {
	s := stacktest.New(b)
	client, calls := countingKMS(s)
	_, v := serviceWith(b, s, client)
	ctx := context.Background()
	c := validCard(b, cardNumber(1))
	if _, err := v.Tokenize(ctx, "cus_benchaaaaaaaaaaaaaaaaaaaaa", c); err != nil {
		b.Fatal(err)
	}
	calls.Reset()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Tokenize(ctx, "cus_benchaaaaaaaaaaaaaaaaaaaaa", c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(calls.Service("KMS"))/float64(b.N), "kms-calls/op")
}
