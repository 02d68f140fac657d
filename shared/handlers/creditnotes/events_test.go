package creditnotes_test

import (
	"context"
	"encoding/json"
	"os"
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
	"github.com/vaultbill/vaultbill/shared/wiring"
	creditnoteswiring "github.com/vaultbill/vaultbill/shared/wiring/creditnotes"
)

// The objects the sample events name; sampleCreditNote stands for the note the first event creates.
const (
	sampleCustomer   = "cus_samplecustomeraaaaaaaaaaaa"
	sampleOpen       = "in_sampleopenaaaaaaaaaaaaaaaa"
	samplePaid       = "in_samplepaidaaaaaaaaaaaaaaaa"
	sampleCreditNote = "cn_samplecreditnoteaaaaaaaaaa"
)

// TestSampleEvents runs the credit-notes function, as wired for Lambda, on every sample event in
// events/credit-notes, as `vaultbill invoke credit-notes --event ...` does: a credit note on the sample
// open invoice, a refund of the sample paid invoice (paid through the payments function), and the
// reads; each POST is replayed (its Idempotency-Key answers the same, refunding nothing).
func TestSampleEvents(t *testing.T) {
	cs := newCNStack(t)
	seed(t, cs.s.Env)
	tok := cs.tokenize(sampleCustomer, processor.TestVisa)
	cs.pay.must(200, "POST", "/v1/invoices/"+samplePaid+"/pay", `{"token":"`+tok+`"}`, nil)
	// The Lambda wiring refunds through a sandbox of its own, as a separate function would.
	svc, err := wiring.API(cs.s.Env, routes.CreditNotes, creditnoteswiring.Register)
	if err != nil {
		t.Fatal(err)
	}
	order := []struct {
		file   string
		status int
	}{{"create-credit-note", 201}, {"refund-invoice", 201}, {"get-credit-note", 200}, {"list-credit-notes", 200}}
	files, _ := os.ReadDir("../../../events/credit-notes")
	if len(files) != len(order) {
		t.Errorf("%d sample events, the test runs %d", len(files), len(order))
	}
	covered := map[string]bool{}
	created := ""
	for _, ev := range order {
		raw, err := os.ReadFile("../../../events/credit-notes/" + ev.file + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var req events.APIGatewayProxyRequest
		if err := json.Unmarshal([]byte(strings.ReplaceAll(string(raw), sampleCreditNote, created)), &req); err != nil {
			t.Fatalf("%s: not a proxy request: %v", ev.file, err)
		}
		r, ok := routes.Lookup(req.HTTPMethod, req.Resource)
		if !ok || r.Function != routes.CreditNotes {
			t.Fatalf("%s: %s %s is not a credit-notes route", ev.file, req.HTTPMethod, req.Resource)
		}
		covered[r.Operation] = true
		first, err := svc.Serve(context.Background(), req)
		if err != nil || first.StatusCode != ev.status {
			t.Fatalf("%s: %d %s (%v), want %d", ev.file, first.StatusCode, first.Body, err, ev.status)
		}
		if req.HTTPMethod != "POST" {
			continue
		}
		cn := decode[billing.CreditNote](t, first.Body)
		if created == "" {
			created = cn.ID
		}
		again, err := svc.Serve(context.Background(), req)
		if err != nil || again.StatusCode != first.StatusCode || again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
			t.Errorf("%s replayed: %d %s %v", ev.file, again.StatusCode, again.Body, again.Headers)
		}
	}
	for _, r := range routes.All {
		if r.Function == routes.CreditNotes && !covered[r.Operation] {
			t.Errorf("no sample event for %s", r.Operation)
		}
	}
}

// seed stores the sample customer and the two sample invoices, open.
func seed(t *testing.T, env wiring.Env) {
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
	for i, id := range []string{sampleOpen, samplePaid} {
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
