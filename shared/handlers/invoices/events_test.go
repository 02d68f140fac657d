package invoices_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	invoiceswiring "github.com/vaultbill/vaultbill/shared/wiring/invoices"
)

// The objects the sample events name.
const (
	sampleCustomer = "cus_samplecustomeraaaaaaaaaaaa"
	sampleDraft    = "in_sampledraftaaaaaaaaaaaaaaa"
	sampleDeleted  = "in_sampledeleteaaaaaaaaaaaaaa"
	samplePayment  = "pay_samplepaymentaaaaaaaaaaaaa"
)

// TestSampleEvents runs the invoices function, as wired for Lambda, on every sample event in
// events/invoices, in an order that takes the sample draft through its lifecycle.
func TestSampleEvents(t *testing.T) {
	s := stacktest.New(t)
	seedSamples(t, s.Env)
	svc, err := wiring.API(s.Env, routes.Invoices, invoiceswiring.Register)
	if err != nil {
		t.Fatal(err)
	}
	order := []struct {
		file   string
		status int
	}{
		{"create-customer", 201}, {"list-customers", 200}, {"get-customer", 200}, {"update-customer", 200},
		{"create-invoice", 201}, {"list-invoices", 200}, {"get-invoice", 200}, {"update-invoice", 200},
		{"finalize-invoice", 200}, {"mark-uncollectible-invoice", 200}, {"void-invoice", 200}, {"delete-invoice", 200},
		{"get-payment", 200}, {"list-payments", 200},
	}
	if files := stacktest.SampleEvents(t, routes.Invoices); len(files) != len(order) {
		t.Errorf("%d sample events, the test runs %d", len(files), len(order))
	}
	covered := map[string]bool{}
	for _, ev := range order {
		req, r := stacktest.SampleEvent(t, routes.Invoices, ev.file)
		if req.RequestContext.Authorizer["principalId"] == nil {
			t.Fatalf("%s: %s %s has no authorizer context", ev.file, req.HTTPMethod, req.Resource)
		}
		covered[r.Operation] = true
		resp, err := svc.Serve(context.Background(), req)
		if err != nil || resp.StatusCode != ev.status {
			t.Errorf("%s: %d %s (%v), want %d", ev.file, resp.StatusCode, resp.Body, err, ev.status)
		}
	}
	stacktest.CheckSampled(t, routes.Invoices, covered)
}

// seedSamples stores the customer and drafts the sample events refer to.
func seedSamples(t *testing.T, env wiring.Env) {
	t.Helper()
	stacktest.SeedSamples(t, env.AWS, env.Config, sampleCustomer, false, sampleDraft, sampleDeleted)
	// A payment of the sample draft, as the payments function stores one (the reads need no more).
	now := time.Now()
	pay := &billing.Payment{ID: samplePayment, InvoiceID: sampleDraft, CustomerID: sampleCustomer,
		TokenID: "tok_5b8e2f0c1d3a4e6f9a7b8c0d1e2f3a4b", Status: billing.PaymentSucceeded, Amount: 1000,
		Currency: "EUR", CreatedAt: billing.FormatTime(now), UpdatedAt: billing.FormatTime(now)}
	claim, err := stacktest.SampleStore(env.AWS, env.Config).ClaimItems(&billing.Invoice{ID: sampleDraft}, pay, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(env.AWS).TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: claim[1:2]}); err != nil {
		t.Fatalf("seed sample payment: %v", err)
	}
}
