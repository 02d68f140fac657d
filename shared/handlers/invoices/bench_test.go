package invoices_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	invoiceswiring "github.com/vaultbill/vaultbill/shared/wiring/invoices"
)

// proxyEvent builds the event API Gateway sends for a billing user.
func proxyEvent(method, resource, path, body string, params map[string]string) events.APIGatewayProxyRequest {
	p := auth.Principal{ID: "bench-user", Username: "bench-user", Role: auth.Billing, MFA: true}
	return events.APIGatewayProxyRequest{
		Resource: resource, Path: path, HTTPMethod: method, Body: body, PathParameters: params,
		Headers: map[string]string{"Content-Type": "application/json"},
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: "bench", ResourcePath: resource, HTTPMethod: method, Authorizer: p.Context(),
		},
	}
}

func benchService(b *testing.B) (*endpoint.Service, string) {
	s := stacktest.New(b)
	svc, err := wiring.API(s.Env, routes.Invoices, invoiceswiring.Register)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := svc.Serve(context.Background(), proxyEvent("POST", "/v1/customers", "/v1/customers", `{"name":"Bench","email":"bench@example.com"}`, nil))
	if err != nil || resp.StatusCode != 201 {
		b.Fatalf("create customer: %d %s", resp.StatusCode, resp.Body)
	}
	id := resp.Body[strings.Index(resp.Body, `"id":"`)+6:]
	return svc, id[:strings.IndexByte(id, '"')]
}

func invoiceBody(customerID string) string {
	return fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900},{"description":"Support","quantity":1,"unit_amount":5000}]}`, customerID)
}

// BenchmarkCreateInvoice is POST /v1/invoices through the handler against the emulator: decode,
// validate, totals, one transaction with the customer check and the audit record.
func BenchmarkCreateInvoice(b *testing.B) {
	svc, cus := benchService(b)
	ev := proxyEvent("POST", "/v1/invoices", "/v1/invoices", invoiceBody(cus), nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := svc.Serve(context.Background(), ev)
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("create: %d %s", resp.StatusCode, resp.Body)
		}
	}
}

// BenchmarkFinalizeInvoice is POST /v1/invoices/{id}/finalize through the handler against the
// emulator: two reads and the numbering transaction. Creating each draft is not timed.
func BenchmarkFinalizeInvoice(b *testing.B) {
	svc, cus := benchService(b)
	create := proxyEvent("POST", "/v1/invoices", "/v1/invoices", invoiceBody(cus), nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		resp, err := svc.Serve(context.Background(), create)
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("create: %d %s", resp.StatusCode, resp.Body)
		}
		id := resp.Body[strings.Index(resp.Body, `"id":"in_`)+6:]
		id = id[:strings.IndexByte(id, '"')]
		ev := proxyEvent("POST", "/v1/invoices/{id}/finalize", "/v1/invoices/"+id+"/finalize", "", map[string]string{"id": id})
		b.StartTimer()
		resp, err = svc.Serve(context.Background(), ev)
		if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, billing.FormatNumber(int64(i+1))) {
			b.Fatalf("finalize: %d %s", resp.StatusCode, resp.Body)
		}
	}
}
