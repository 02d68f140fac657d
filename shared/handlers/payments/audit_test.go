package payments_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestEveryPayIsAudited: each pay request, whatever its outcome, leaves one PayInvoice record, and one
// Detokenize record for each decryption of a card number it made (none when it never reached the
// card), all under the request's id. No audit record holds a card number.
func TestEveryPayIsAudited(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	other := ps.billing.Customer("Other").ID
	inv := ps.billing.Open(cus)
	good := ps.pay.Tokenize(cus, processor.TestVisa)
	bad := ps.pay.Tokenize(cus, processor.TestDeclined)
	othersTok := ps.pay.Tokenize(other, processor.TestVisa)
	crashed := ps.billing.Open(cus)

	type request struct {
		name, invoice, token string
		status               int
		errorCode            string
		detokenize           int
		before               func()
	}
	requests := []request{
		{"declined", inv.ID, bad, 402, "card_declined", 1, nil},
		{"another customer's token", inv.ID, othersTok, 404, "not_found", 0, nil},
		{"paid", inv.ID, good, 200, "", 1, nil},
		{"already paid", inv.ID, good, 409, "invalid_state", 0, nil},
		{"commit fails after the charge", crashed.ID, good, 503, "service_unavailable", 1, func() { ps.db.FailWhen(stacktest.First(1, stacktest.SettlesPaid)) }},
		{"recovery", crashed.ID, good, 200, "", 1, nil},
	}
	ids := make([]string, len(requests))
	for i, r := range requests {
		if r.before != nil {
			r.before()
		}
		resp, body := stacktest.Do(t, ps.s, "POST", "/v1/invoices/"+r.invoice+"/pay", ps.pay.Token, payBody(r.token))
		if resp.StatusCode != r.status {
			t.Fatalf("%s: %d %s, want %d", r.name, resp.StatusCode, body, r.status)
		}
		ids[i] = resp.Header.Get("X-Request-Id")
	}

	records := stacktest.AuditRecords(ps.t, ps.s)
	for i, r := range requests {
		var pay, detok int
		for _, rec := range records {
			if rec.RequestID != ids[i] {
				continue
			}
			switch rec.EventName {
			case "PayInvoice":
				pay++
				if rec.ErrorCode != r.errorCode || rec.ReadOnly || rec.UserIdentity.PrincipalID == "" {
					t.Errorf("%s: PayInvoice record errorCode %q readOnly %v principal %q", r.name, rec.ErrorCode, rec.ReadOnly, rec.UserIdentity.PrincipalID)
				}
			case vault.DetokenizeEvent:
				detok++
				if !rec.ReadOnly || len(rec.Resources) != 2 || rec.Resources[0].Type != "token" {
					t.Errorf("%s: Detokenize record %+v", r.name, rec)
				}
			}
		}
		if diff := cmp.Diff([2]int{1, r.detokenize}, [2]int{pay, detok}); diff != "" {
			t.Errorf("%s: [PayInvoice, Detokenize] records (-want +got):\n%s", r.name, diff)
		}
	}
	// A successful payment's record names the invoice and the payment.
	for _, rec := range records {
		if rec.RequestID == ids[2] && rec.EventName == "PayInvoice" {
			types := map[string]bool{}
			for _, res := range rec.Resources {
				types[res.Type] = true
			}
			if !types["vaultbill::invoice"] || !types["vaultbill::payment"] {
				t.Errorf("PayInvoice resources %+v", rec.Resources)
			}
		}
	}
	raw, _ := json.Marshal(records)
	for _, n := range []string{processor.TestVisa, processor.TestDeclined} {
		if strings.Contains(string(raw), n) || strings.Contains(string(raw), n[4:]) {
			t.Errorf("a card number appears in an audit record")
		}
	}
}
