package payments_test

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/wiring"
	paymentswiring "github.com/vaultbill/vaultbill/shared/wiring/payments"
)

// payEvent is the event API Gateway sends for POST /v1/invoices/{id}/pay by a payments user.
func payEvent(invoiceID, token string) events.APIGatewayProxyRequest {
	p := auth.Principal{ID: "bench-user", Username: "bench-user", Role: auth.Payments, MFA: true}
	return events.APIGatewayProxyRequest{
		Resource: "/v1/invoices/{id}/pay", Path: "/v1/invoices/" + invoiceID + "/pay", HTTPMethod: "POST",
		Body: payBody(token), PathParameters: map[string]string{"id": invoiceID},
		Headers: map[string]string{"Content-Type": "application/json"},
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: audit.NewEventID(), ResourcePath: "/v1/invoices/{id}/pay", HTTPMethod: "POST", Authorizer: p.Context(),
		},
	}
}

// BenchmarkPay is POST /v1/invoices/{id}/pay through the payments function as wired for Lambda,
// against the emulator, with a warm data key cache: claim, Detokenize record and decryption, sandbox
// charge, settle transaction. Each op pays a fresh open invoice (made before the timer starts). It
// reports the AWS calls per op.
func BenchmarkPay(b *testing.B) {
	ps := newPayStack(b)
	counter := counted(ps)
	svc, err := wiring.API(ps.env, routes.Payments, paymentswiring.Register)
	if err != nil {
		b.Fatal(err)
	}
	cus := ps.billing.Customer("Bench").ID
	tok := ps.pay.Tokenize(cus, processor.TestVisa)
	invs := make([]string, b.N+1)
	for i := range invs {
		invs[i] = ps.billing.Open(cus).ID
	}
	ctx := context.Background()
	pay := func(id string) {
		resp, err := svc.Serve(ctx, payEvent(id, tok))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("pay: %d %s %v", resp.StatusCode, resp.Body, err)
		}
	}
	pay(invs[b.N]) // warm: the data key
	counter.Take()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pay(invs[i])
	}
	b.StopTimer()
	var ddb, kms int
	for op, n := range counter.Take() {
		if op[:3] == "KMS" {
			kms += n
		} else {
			ddb += n
		}
	}
	b.ReportMetric(float64(ddb)/float64(b.N), "dynamodb-calls/op")
	b.ReportMetric(float64(kms)/float64(b.N), "kms-calls/op")
}
