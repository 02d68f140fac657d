package tokens_test

import (
	"context"
	"testing"

	"github.com/vaultbill/vaultbill/shared/devstack/stacktest"
)

// BenchmarkTokenize runs POST /v1/tokens through the handler against the emulator with a warm key
// cache: each op is a new card (no dedup shortcut). It reports the KMS calls per op.
func BenchmarkTokenize(b *testing.B) {
	s := stacktest.New(b)
	seedCustomer(b, s, "cus_benchaaaaaaaaaaaaaaaaaaaaa")
	client, calls := countingKMS(s)
	svc, _ := serviceWith(b, s, client)
	ctx := context.Background()
	serve := func(i int) {
		resp, err := svc.Serve(ctx, event("POST", "/v1/tokens", "/v1/tokens", nil, paymentsUser, createBody("cus_benchaaaaaaaaaaaaaaaaaaaaa", cardNumber(i), "123")))
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("tokenize: %d %s %v", resp.StatusCode, resp.Body, err)
		}
	}
	serve(0) // warm: fingerprint key and first data key
	calls.Reset()
	b.ReportAllocs()
	i := 1
	for b.Loop() {
		serve(i)
		i++
	}
	b.ReportMetric(float64(calls.Service("KMS"))/float64(b.N), "kms-calls/op")
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
