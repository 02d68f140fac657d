package backup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
	paymentswiring "github.com/vaultbill/vaultbill/shared/wiring/payments"
	tokenswiring "github.com/vaultbill/vaultbill/shared/wiring/tokens"
)

// TestRestoredVaultStillPays is the disaster drill as a customer sees it: a card stored before the
// vault table was lost still pays an invoice once the vault is restored from its backup, and the
// same card still resolves to the same token (the fingerprint key and the card guard came back too).
// Everything goes through the gateway and the real functions; the ones that read the vault after the
// restore are built anew, so no key cached in memory can stand in for a restored item.
func TestRestoredVaultStillPays(t *testing.T) {
	s := stacktest.New(t)
	ctx := context.Background()
	billingToken := stacktest.Token(t, s, devstack.TokenSpec{Role: string(auth.Billing), Subject: "billing-drill"})
	payToken := stacktest.Token(t, s, devstack.TokenSpec{Role: string(auth.Payments), Subject: "payments-drill"})
	call := func(want int, token, method, path, body string, out any) {
		t.Helper()
		resp, b := stacktest.Do(t, s, method, path, token, body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d; body %s", method, path, resp.StatusCode, want, b)
		}
		if err := json.Unmarshal([]byte(b), out); err != nil {
			t.Fatalf("%s %s: body %s: %v", method, path, b, err)
		}
	}

	// Before the loss: an open invoice of 2 × 19.99 EUR at 19% tax, and the customer's card in the vault.
	var cus billing.Customer
	call(201, billingToken, "POST", "/v1/customers", `{"name":"Ada","email":"ada@example.com"}`, &cus)
	var inv billing.Invoice
	call(201, billingToken, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900}]}`, cus.ID), &inv)
	call(200, billingToken, "POST", "/v1/invoices/"+inv.ID+"/finalize", "", &inv)
	if inv.Status != billing.Open || inv.AmountDue != 4758 {
		t.Fatalf("finalized invoice: %+v", inv)
	}
	cardBody := fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":%d,"cvc":"123"}}`,
		cus.ID, processor.TestVisa, time.Now().Year()+3)
	var tok tokens.TokenResponse
	call(201, payToken, "POST", "/v1/tokens", cardBody, &tok)

	// The vault now holds the token, its card guard and the fingerprint key.
	vaultTable := s.Env.Config.VaultTable
	db := dynamodb.NewFromConfig(s.Env.AWS)
	snap := &env{s: s, db: db}
	before := snap.snapshot(t, vaultTable)
	var kinds []string
	for k := range before {
		kinds = append(kinds, k[:strings.IndexByte(k, '#')])
	}
	slices.Sort(kinds)
	if diff := cmp.Diff([]string{"CUS", "KEY", "TOK"}, kinds); diff != "" {
		t.Fatalf("vault item kinds before the backup (-want +got):\n%s", diff)
	}

	r, err := backupwiring.New(s.Env, "test")
	if err != nil {
		t.Fatal(err)
	}
	r.Metrics = io.Discard
	res, err := r.Backup(ctx)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}

	// Lose the vault, then restore its newest backup under its own name.
	if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(vaultTable)}); err != nil {
		t.Fatalf("delete %s: %v", vaultTable, err)
	}
	if err := dynamodb.NewTableNotExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(vaultTable)}, time.Minute); err != nil {
		t.Fatalf("wait for %s to be gone: %v", vaultTable, err)
	}
	rr, err := r.Restore(ctx, backup.RestoreRequest{Source: resources.Vault.ID, From: backup.Latest, Table: vaultTable})
	if err != nil {
		t.Fatalf("restore vault: %v", err)
	}
	if rr.BackupID != res.ID || rr.Items != int64(len(before)) {
		t.Errorf("restore: %+v; want backup %s with %d items", rr, res.ID, len(before))
	}
	if diff := cmp.Diff(before, snap.snapshot(t, vaultTable)); diff != "" {
		t.Errorf("restored vault differs (-before +after):\n%s", diff)
	}

	// Fresh tokens and payments functions, as after a cold start: they hold no data key and no
	// fingerprint key, so every key they use is unwrapped from the restored items.
	for fn, register := range map[string]wiring.Register{routes.Payments: paymentswiring.Register, routes.Tokens: tokenswiring.Register} {
		svc, err := wiring.API(s.Env, fn, register)
		if err != nil {
			t.Fatal(err)
		}
		s.Gateway.Functions[fn] = svc.Serve
	}

	// The restored token pays the invoice: a missing token would be a 404, a token whose sealed card
	// or wrapped data key changed would not decrypt (5xx), a changed card number would not charge.
	var paid payments.PayResponse
	call(200, payToken, "POST", "/v1/invoices/"+inv.ID+"/pay", fmt.Sprintf(`{"token":%q}`, tok.ID), &paid)
	if paid.Payment == nil || paid.Payment.Status != billing.PaymentSucceeded || paid.Payment.Amount != 4758 || paid.Payment.TokenID != tok.ID {
		t.Errorf("payment after restore: %+v", paid.Payment)
	}
	if paid.Invoice == nil || paid.Invoice.Status != billing.Paid || paid.Invoice.AmountDue != 0 {
		t.Errorf("invoice after restore and pay: %+v", paid.Invoice)
	}

	// The same card is still the same token: the restored fingerprint key gives the same fingerprint
	// (a lost key would be replaced by a new one) and the restored guard finds the token (200, not 201).
	var again tokens.TokenResponse
	call(200, payToken, "POST", "/v1/tokens", cardBody, &again)
	if again.ID != tok.ID || again.Card.Fingerprint != tok.Card.Fingerprint {
		t.Errorf("same card after restore: token %s fingerprint %s; want %s %s", again.ID, again.Card.Fingerprint, tok.ID, tok.Card.Fingerprint)
	}
	// And the customer's tokens are listed through the restored index.
	var list tokens.ListResponse
	call(200, payToken, "GET", "/v1/customers/"+cus.ID+"/tokens", "", &list)
	if len(list.Data) != 1 || list.Data[0].ID != tok.ID {
		t.Errorf("customer tokens after restore: %+v", list.Data)
	}
	assertNoCard(t, processor.TestVisa)
}

// assertNoCard fails if a card number reached the test binary's logs.
func assertNoCard(t *testing.T, number string) {
	t.Helper()
	if strings.Contains(stacktest.Logs.String(), number) {
		t.Errorf("a card number appears in the logs")
	}
}
