package invoices_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	invoiceswiring "github.com/vaultbill/vaultbill/shared/wiring/invoices"
)

// BenchmarkCreateCustomer is POST /v1/customers through the handler against the emulator, with the
// KMS calls it makes per customer (kms/op).
func BenchmarkCreateCustomer(b *testing.B) {
	s := stacktest.New(b)
	env := s.Env
	var calls *stacktest.Calls
	env.AWS, calls = stacktest.CountCalls(s.Env.AWS)
	svc, err := wiring.API(env, routes.Invoices, invoiceswiring.Register)
	if err != nil {
		b.Fatal(err)
	}
	ev := proxyEvent("POST", "/v1/customers", "/v1/customers", `{"name":"Bench Person","email":"bench@example.com","tax_id":"DE123456789"}`, nil)
	calls.Reset()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := svc.Serve(context.Background(), ev)
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("create: %d %s", resp.StatusCode, resp.Body)
		}
	}
	b.ReportMetric(float64(calls.Service("KMS"))/float64(b.N), "kms/op")
}

// BenchmarkGetCustomer is GET /v1/customers/{id} through the handler against the emulator over 50
// customers read in turn, with the KMS calls per read (kms/op) once their keys are cached.
func BenchmarkGetCustomer(b *testing.B) {
	s := stacktest.New(b)
	env := s.Env
	var calls *stacktest.Calls
	env.AWS, calls = stacktest.CountCalls(s.Env.AWS)
	svc, err := wiring.API(env, routes.Invoices, invoiceswiring.Register)
	if err != nil {
		b.Fatal(err)
	}
	var reads []string
	for range 50 {
		resp, err := svc.Serve(context.Background(), proxyEvent("POST", "/v1/customers", "/v1/customers", `{"name":"Bench Person","email":"bench@example.com"}`, nil))
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("create: %d %s", resp.StatusCode, resp.Body)
		}
		id := resp.Body[strings.Index(resp.Body, `"id":"`)+6:]
		reads = append(reads, id[:strings.IndexByte(id, '"')])
	}
	calls.Reset()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := reads[i%len(reads)]
		i++
		resp, err := svc.Serve(context.Background(), proxyEvent("GET", "/v1/customers/{id}", "/v1/customers/"+id, "", map[string]string{"id": id}))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("get: %d %s", resp.StatusCode, resp.Body)
		}
	}
	b.ReportMetric(float64(calls.Service("KMS"))/float64(b.N), "kms/op")
}
