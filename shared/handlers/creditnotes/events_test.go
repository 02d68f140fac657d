package creditnotes_test

import (
	"context"
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
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
	stacktest.SeedSamples(t, cs.s.Env.AWS, cs.s.Env.Config, sampleCustomer, true, sampleOpen, samplePaid)
	tok := cs.pay.Tokenize(sampleCustomer, processor.TestVisa)
	cs.pay.Must(200, "POST", "/v1/invoices/"+samplePaid+"/pay", `{"token":"`+tok+`"}`, nil)
	// The Lambda wiring refunds through a sandbox of its own, as a separate function would.
	svc, err := wiring.API(cs.s.Env, routes.CreditNotes, creditnoteswiring.Register)
	if err != nil {
		t.Fatal(err)
	}
	order := []struct {
		file   string
		status int
	}{{"create-credit-note", 201}, {"refund-invoice", 201}, {"get-credit-note", 200}, {"list-credit-notes", 200}}
	if files := stacktest.SampleEvents(t, routes.CreditNotes); len(files) != len(order) {
		t.Errorf("%d sample events, the test runs %d", len(files), len(order))
	}
	covered := map[string]bool{}
	created := ""
	for _, ev := range order {
		req, r := stacktest.SampleEvent(t, routes.CreditNotes, ev.file, sampleCreditNote, created)
		covered[r.Operation] = true
		first, err := svc.Serve(context.Background(), req)
		if err != nil || first.StatusCode != ev.status {
			t.Fatalf("%s: %d %s (%v), want %d", ev.file, first.StatusCode, first.Body, err, ev.status)
		}
		if req.HTTPMethod != "POST" {
			continue
		}
		cn := stacktest.Decode[billing.CreditNote](t, first.Body)
		if created == "" {
			created = cn.ID
		}
		stacktest.CheckReplayed(t, ev.file, svc.Serve, req, first)
	}
	stacktest.CheckSampled(t, routes.CreditNotes, covered)
}
