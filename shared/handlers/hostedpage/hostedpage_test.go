package hostedpage_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/hostedlink"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/hostedpage"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

func card(customerID, number string) string {
	return fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":%d,"cvc":"123","name":"Ada Lovelace"}}`, customerID, number, time.Now().Year()+2)
}

// A link shows its invoice with the page's security headers, takes a card and pays the invoice, and
// is spent from then on: it shows the paid state, and the vault and payment routes refuse it.
func TestLinkPaysInvoiceOnceThenIsSpent(t *testing.T) {
	e := newEnv(t)
	link := e.link(e.inv.ID)
	secret := strings.TrimPrefix(link, "/pay/")
	if n := len(secret); n < 22 {
		t.Fatalf("link secret has %d characters: under 128 bits", n)
	}

	resp, page := e.get(link)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for k, v := range hostedpage.SecurityHeaders(secret) {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	for _, want := range []string{"Invoice " + *e.inv.Number, "EUR 47.58", "EUR 39.98", "Hosting", "2027-01-31",
		`autocomplete="cc-number"`, `autocomplete="cc-exp-month"`, `autocomplete="cc-exp-year"`, `autocomplete="cc-csc"`, `autocomplete="cc-name"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	r, body := stacktest.Do(t, e.s, "POST", link+"/tokens", "", card(e.inv.CustomerID, "4242424242424242"))
	if r.StatusCode != 201 {
		t.Fatalf("tokenize with the link: %d %s", r.StatusCode, body)
	}
	var tok struct{ ID string }
	_ = json.Unmarshal([]byte(body), &tok)
	r, body = stacktest.Do(t, e.s, "POST", link+"/pay", "", fmt.Sprintf(`{"token":%q}`, tok.ID))
	if r.StatusCode != 200 {
		t.Fatalf("pay with the link: %d %s", r.StatusCode, body)
	}
	var inv billing.Invoice
	e.must(200, "GET", "/v1/invoices/"+e.inv.ID, "", &inv)
	if inv.Status != billing.Paid {
		t.Fatalf("invoice is %s after paying through its link", inv.Status)
	}

	// Spent: the page shows the paid state without a form; the card routes refuse the link.
	_, page = e.get(link)
	if strings.Contains(page, `id="pay"`) || !strings.Contains(page, "this invoice is paid") || strings.Contains(page, `id="paid" tabindex="-1" hidden`) {
		t.Errorf("a paid invoice's page still offers payment or hides its paid state:\n%s", page)
	}
	if r, body := stacktest.Do(t, e.s, "POST", link+"/tokens", "", card(e.inv.CustomerID, "5555555555554444")); r.StatusCode != 409 {
		t.Errorf("tokenize with a spent link: %d %s, want 409", r.StatusCode, body)
	}
	if r, body := stacktest.Do(t, e.s, "POST", link+"/pay", "", fmt.Sprintf(`{"token":%q}`, tok.ID)); r.StatusCode != 409 {
		t.Errorf("pay with a spent link: %d %s, want 409", r.StatusCode, body)
	}
	e.must(409, "POST", "/v1/invoices/"+e.inv.ID+"/link", "", nil)

	// Audited under the link's id, never its secret.
	var byLink int
	for _, rec := range e.auditItems() {
		if strings.Contains(rec, secret) {
			t.Fatalf("an audit record holds the link's secret:\n%s", rec)
		}
		if strings.Contains(rec, hostedpageIdentity) {
			byLink++
		}
	}
	if byLink < 4 {
		t.Errorf("%d audit records name the link as the principal, want at least 4 (page, tokenize, pay, ...)", byLink)
	}
}

const hostedpageIdentity = `"type":"HostedInvoiceLink"`

// A declined card leaves the invoice open and the link usable.
func TestDeclinedCardLeavesInvoiceOpen(t *testing.T) {
	e := newEnv(t)
	link := e.link(e.inv.ID)
	_, body := stacktest.Do(t, e.s, "POST", link+"/tokens", "", card(e.inv.CustomerID, processor.TestDeclined))
	var tok struct{ ID string }
	_ = json.Unmarshal([]byte(body), &tok)
	r, body := stacktest.Do(t, e.s, "POST", link+"/pay", "", fmt.Sprintf(`{"token":%q}`, tok.ID))
	if r.StatusCode != 402 || !strings.Contains(body, "card_declined") {
		t.Fatalf("declined card: %d %s", r.StatusCode, body)
	}
	var inv billing.Invoice
	e.must(200, "GET", "/v1/invoices/"+e.inv.ID, "", &inv)
	if inv.Status != billing.Open {
		t.Fatalf("invoice is %s after a decline", inv.Status)
	}
}

// A link grants one invoice of one customer: it cannot tokenize for another customer, and forged,
// malformed, expired and revoked (voided invoice) links are refused.
func TestLinksAreRefusedOutsideTheirGrant(t *testing.T) {
	e := newEnv(t)
	var other billing.Customer
	e.must(201, "POST", "/v1/customers", `{"name":"Other","email":"o@example.com"}`, &other)
	link := e.link(e.inv.ID)
	if r, body := stacktest.Do(t, e.s, "POST", link+"/tokens", "", card(other.ID, "4242424242424242")); r.StatusCode != 404 {
		t.Errorf("tokenize for another customer with a link: %d %s, want 404", r.StatusCode, body)
	}

	var b [32]byte
	_, _ = rand.Read(b[:])
	forged := "/pay/" + base64.RawURLEncoding.EncodeToString(b[:])
	for _, path := range []string{forged, "/pay/short", "/pay/" + strings.Repeat("A", 43)} {
		resp, page := e.get(path)
		if resp.StatusCode != 404 || !strings.Contains(page, "This payment link is not valid") || strings.Contains(page, `id="pay"`) {
			t.Errorf("GET %s: %d, want 404 with the refusal page:\n%s", path, resp.StatusCode, page)
		}
		if resp.Header.Get("Content-Security-Policy") != hostedpage.SecurityHeaders(strings.TrimPrefix(path, "/pay/"))["Content-Security-Policy"] {
			t.Errorf("GET %s: the refusal page lacks the page's CSP", path)
		}
	}
	if r, body := stacktest.Do(t, e.s, "POST", forged+"/tokens", "", card(e.inv.CustomerID, "4242424242424242")); r.StatusCode != 404 {
		t.Errorf("tokenize with a forged link: %d %s", r.StatusCode, body)
	}

	// An expired link: made two hours ago, for one hour.
	links := &hostedlink.Store{DB: dynamodb.NewFromConfig(e.s.Env.AWS), Table: e.s.Env.Config.BillingTable, Clock: func() time.Time { return time.Now().Add(-2 * time.Hour) }}
	secret, _, item, err := links.New(&e.inv, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(e.s.Env.AWS).TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{item}}); err != nil {
		t.Fatal(err)
	}
	resp, page := e.get("/pay/" + secret)
	if resp.StatusCode != 404 || !strings.Contains(page, "has expired") {
		t.Errorf("expired link: %d\n%s", resp.StatusCode, page)
	}
	if r, body := stacktest.Do(t, e.s, "POST", "/pay/"+secret+"/tokens", "", card(e.inv.CustomerID, "4242424242424242")); r.StatusCode != 404 {
		t.Errorf("tokenize with an expired link: %d %s", r.StatusCode, body)
	}

	// Voiding the invoice revokes its link.
	e.must(200, "POST", "/v1/invoices/"+e.inv.ID+"/void", "", nil)
	if r, body := stacktest.Do(t, e.s, "POST", link+"/tokens", "", card(e.inv.CustomerID, "4242424242424242")); r.StatusCode != 409 {
		t.Errorf("tokenize with a voided invoice's link: %d %s", r.StatusCode, body)
	}
	if _, page := e.get(link); strings.Contains(page, `id="pay"`) || !strings.Contains(page, "no longer open") {
		t.Errorf("a voided invoice's page still offers payment:\n%s", page)
	}
}

// Only admin and billing make links, only to open invoices.
func TestCreateLinkRules(t *testing.T) {
	e := newEnv(t)
	cust := stacktest.Token(t, e.s, devstackSpec("customer", e.inv.CustomerID))
	if r, body := stacktest.Do(t, e.s, "POST", "/v1/invoices/"+e.inv.ID+"/link", cust, ""); r.StatusCode != 403 {
		t.Errorf("a customer made a link: %d %s", r.StatusCode, body)
	}
	var draft billing.Invoice
	e.must(201, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"JPY","lines":[{"description":"Tea","quantity":1,"unit_amount":1200}]}`, e.inv.CustomerID), &draft)
	e.must(409, "POST", "/v1/invoices/"+draft.ID+"/link", "", nil)
	e.must(422, "POST", "/v1/invoices/"+e.inv.ID+"/link", `{"expires_in_hours":0}`, nil)
	var l hostedpage.LinkResponse
	e.must(201, "POST", "/v1/invoices/"+e.inv.ID+"/link", `{"expires_in_hours":2}`, &l)
	exp, err := time.Parse(time.RFC3339, l.ExpiresAt)
	if err != nil || exp.Sub(time.Now()) > 2*time.Hour || exp.Sub(time.Now()) < 119*time.Minute {
		t.Errorf("expires_at %q for a 2 hour link", l.ExpiresAt)
	}
}

// A CSP violation report is audited (directive and blocked origin only) and raises the alert.
func TestCSPReportIsAuditedAndAlerts(t *testing.T) {
	e := newEnv(t)
	link := e.link(e.inv.ID)
	report := `{"csp-report":{"document-uri":"http://x` + link + `","effective-directive":"script-src-elem","violated-directive":"script-src-elem","blocked-uri":"inline","original-policy":"x"}}`
	r, body := stacktest.Do(t, e.s, "POST", link+"/csp-report", "", report, "Content-Type", "application/csp-report")
	if r.StatusCode != 204 {
		t.Fatalf("report: %d %s", r.StatusCode, body)
	}
	found := false
	for _, rec := range e.auditItems() {
		if strings.Contains(rec, "ReportHostedPageViolation") && strings.Contains(rec, "script-src-elem") {
			found = true
		}
		if strings.Contains(rec, strings.TrimPrefix(link, "/pay/")) {
			t.Fatalf("the report's record holds the link's secret:\n%s", rec)
		}
	}
	if !found {
		t.Error("no audit record of the CSP violation")
	}
	if !strings.Contains(stacktest.Logs.String(), "ALERT: the hosted invoice page reported a Content-Security-Policy violation") ||
		!strings.Contains(stacktest.Logs.String(), `"CSPViolation":1`) {
		t.Error("no ALERT line or metric for the CSP violation")
	}
}
