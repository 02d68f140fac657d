package payments_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
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
	files, _ := filepath.Glob("../../../events/payments/*.json")
	if len(files) == 0 {
		t.Fatal("no sample events in events/payments")
	}
	svc, err := wiring.API(ps.s.Env, routes.Payments, paymentswiring.Register)
	if err != nil {
		t.Fatal(err)
	}
	seedOpenInvoices(t, ps.s.Env, "in_sampleopenaaaaaaaaaaaaaaaa", "in_sampleopenbbbbbbbbbbbbbbbb")
	tok := ps.tokenize(sampleCustomer, processor.TestVisa)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var req events.APIGatewayProxyRequest
		if err := json.Unmarshal([]byte(strings.ReplaceAll(string(raw), sampleToken, tok)), &req); err != nil {
			t.Fatalf("%s: not a proxy request: %v", f, err)
		}
		if r, ok := routes.Lookup(req.HTTPMethod, req.Resource); !ok || r.Function != routes.Payments {
			t.Fatalf("%s: %s %s is not a payments route", f, req.HTTPMethod, req.Resource)
		}
		first, err := svc.Serve(context.Background(), req)
		if err != nil || first.StatusCode != 200 {
			t.Fatalf("%s: %d %s (%v)", f, first.StatusCode, first.Body, err)
		}
		if got := decode[payments.PayResponse](t, first.Body); got.Invoice.Status != billing.Paid || got.Payment.Status != billing.PaymentSucceeded {
			t.Errorf("%s: %s", f, first.Body)
		}
		again, err := svc.Serve(context.Background(), req)
		if err != nil || again.StatusCode != 200 || again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
			t.Errorf("%s replayed: %d %s %v", f, again.StatusCode, again.Body, again.Headers)
		}
	}
}

// seedOpenInvoices stores the sample customer and an open invoice of it under each id.
func seedOpenInvoices(t *testing.T, env wiring.Env, ids ...string) {
	t.Helper()
	db := dynamodb.NewFromConfig(env.AWS)
	st := &billingdb.Store{DB: db, Table: env.Config.BillingTable,
		Keys: customerkeys.New(kms.NewFromConfig(env.AWS), db, env.Config.BillingTable, env.Config.DataKeyID)}
	now := time.Now()
	cus, err := billing.NewCustomer(sampleCustomer, billing.CustomerInput{Name: "Sample Customer", Email: "sample@example.com"}, billing.FormatTime(now))
	if err != nil {
		t.Fatal(err)
	}
	items, err := st.CreateCustomerItems(context.Background(), cus)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		q, u := int64(1), int64(1000)
		inv, err := billing.NewInvoice(id, billing.InvoiceInput{CustomerID: sampleCustomer, Currency: "EUR",
			Lines: []billing.LineInput{{Description: "Sample", Quantity: &q, UnitAmount: &u}}}, billing.NewID, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.Apply(billing.Finalize, now); err != nil {
			t.Fatal(err)
		}
		num := billing.FormatNumber(int64(900001 + i))
		inv.Number = &num
		its, err := st.CreateInvoiceItems(inv)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, its[1])
	}
	if _, err := db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		t.Fatalf("seed samples: %v", err)
	}
}
