package payments_test

import (
	"context"
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	paymentswiring "github.com/vaultbill/vaultbill/shared/wiring/payments"
)

// The objects the sample events name; sampleToken stands for a token the test makes.
const (
	sampleCustomer = "cus_samplecustomeraaaaaaaaaaaa"
	sampleToken    = "tok_5b8e2f0c1d3a4e6f9a7b8c0d1e2f3a4b"
)

// TestSampleEvents runs the payments function, as wired for Lambda, on every sample event in
// events/payments, as `vaultbill invoke payments --event ...` does, and replays each (its
// Idempotency-Key answers the same, charging nothing).
func TestSampleEvents(t *testing.T) {
	ps := newPayStack(t)
	svc, err := wiring.API(ps.s.Env, routes.Payments, paymentswiring.Register)
	if err != nil {
		t.Fatal(err)
	}
	stacktest.SeedSamples(t, ps.s.Env.AWS, ps.s.Env.Config, sampleCustomer, true, "in_sampleopenaaaaaaaaaaaaaaaa", "in_sampleopenbbbbbbbbbbbbbbbb")
	tok := ps.pay.Tokenize(sampleCustomer, processor.TestVisa)
	for _, f := range stacktest.SampleEvents(t, routes.Payments) {
		req, _ := stacktest.SampleEvent(t, routes.Payments, f, sampleToken, tok)
		first, err := svc.Serve(context.Background(), req)
		if err != nil || first.StatusCode != 200 {
			t.Fatalf("%s: %d %s (%v)", f, first.StatusCode, first.Body, err)
		}
		if got := stacktest.Decode[payments.PayResponse](t, first.Body); got.Invoice.Status != billing.Paid || got.Payment.Status != billing.PaymentSucceeded {
			t.Errorf("%s: %s", f, first.Body)
		}
		stacktest.CheckReplayed(t, f, svc.Serve, req, first)
	}
}
