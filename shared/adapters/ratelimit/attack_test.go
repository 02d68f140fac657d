package ratelimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/auditreview"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// attackStack is a local stack with a billing user to create customers.
type attackStack struct {
	t       *testing.T
	s       *devstack.Stack
	billing string
}

func newAttackStack(t *testing.T) *attackStack {
	s := stacktest.New(t)
	return &attackStack{t: t, s: s, billing: stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "bill-betty"})}
}

func (a *attackStack) customer(name string) string {
	a.t.Helper()
	resp, body := stacktest.Do(a.t, a.s, "POST", "/v1/customers", a.billing, fmt.Sprintf(`{"name":%q,"email":"c@example.com"}`, name))
	if resp.StatusCode != http.StatusCreated {
		a.t.Fatalf("create customer: %d %s", resp.StatusCode, body)
	}
	var c struct{ ID string }
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		a.t.Fatal(err)
	}
	return c.ID
}

func (a *attackStack) token(role, subject, customer string) string {
	return stacktest.Token(a.t, a.s, devstack.TokenSpec{Role: role, Subject: subject, CustomerID: customer})
}

func tokenizeBody(customer, number string, month, year int) string {
	b, _ := json.Marshal(map[string]any{
		"customer_id": customer,
		"card":        map[string]any{"number": number, "exp_month": month, "exp_year": year, "cvc": "123"},
	})
	return string(b)
}

// middles returns the Luhn-valid 16-digit numbers with the given BIN and last four, in order of their
// middle six digits: the 10^5 guesses an attacker who has read a token's metadata must make.
func middles(bin, last4 string, n int) []string {
	var out []string
	for m := 0; m < 1_000_000 && len(out) < n; m++ {
		number := fmt.Sprintf("%s%06d%s", bin, m, last4)
		if card.Luhn([]byte(number)) {
			out = append(out, number)
		}
	}
	return out
}

func (a *attackStack) ship() {
	a.t.Helper()
	if _, err := a.s.Audit.ShipNow(context.Background()); err != nil {
		a.t.Fatal(err)
	}
}

// TestEnumerationIsThrottled is the attack of a staff principal on the vault: a payments user reads a
// customer's token metadata (BIN, last four, expiry) and tries the Luhn-valid middles through
// POST /v1/tokens, where a 200 with the existing token would confirm the number. The right middle is
// planted 50th: unthrottled, the attack recovers the card within 60 attempts. It must be refused with
// 429 rate_limited and a Retry-After before 40 attempts, the refusals audited, and the automated
// review must alert naming the principal.
func TestEnumerationIsThrottled(t *testing.T) {
	a := newAttackStack(t)
	cus := a.customer("Victim")
	guesses := middles("424242", "4242", 60)
	secret := guesses[49]
	owner := a.token("customer", "victim-vera", cus)
	if resp, body := stacktest.Do(t, a.s, "POST", "/v1/tokens", owner, tokenizeBody(cus, secret, 11, 2033)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("victim's tokenization: %d %s", resp.StatusCode, body)
	}

	mallory := a.token("payments", "mallory-enum", "")
	resp, body := stacktest.Do(t, a.s, "GET", "/v1/customers/"+cus+"/tokens", mallory, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list tokens: %d %s", resp.StatusCode, body)
	}
	var list struct {
		Data []struct {
			Card struct {
				BIN   string `json:"bin"`
				Last4 string `json:"last4"`
				Month int    `json:"exp_month"`
				Year  int    `json:"exp_year"`
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Data) != 1 {
		t.Fatalf("token list: %s (%v)", body, err)
	}
	meta := list.Data[0].Card

	throttledAt := 0
	for i, guess := range middles(meta.BIN, meta.Last4, 60) {
		resp, body := stacktest.Do(t, a.s, "POST", "/v1/tokens", mallory, tokenizeBody(cus, guess, meta.Month, meta.Year))
		switch resp.StatusCode {
		case http.StatusOK:
			t.Fatalf("the attack recovered the card number in %d attempts: nothing throttled it", i+1)
		case http.StatusCreated:
			continue
		case http.StatusTooManyRequests:
			throttledAt = i + 1
			if !strings.Contains(body, `"code":"rate_limited"`) {
				t.Errorf("429 body: %s", body)
			}
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 600 {
				t.Errorf("Retry-After %q, want seconds until the window frees (1-600)", resp.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("attempt %d: %d %s", i+1, resp.StatusCode, body)
		}
		break
	}
	if throttledAt == 0 || throttledAt >= 40 {
		t.Fatalf("enumeration throttled at attempt %d, want before 40", throttledAt)
	}
	t.Logf("enumeration throttled at attempt %d", throttledAt)

	// Every refusal is audited with its code, and the automated review names the principal.
	auditor := a.token("auditor", "audrey", "")
	resp, body = stacktest.Do(t, a.s, "GET", "/v1/audit-events?principal=mallory-enum&event_name=CreateToken&limit=100", auditor, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"errorCode":"rate_limited"`) {
		t.Errorf("audit records of the throttled attempts: %d %s", resp.StatusCode, body)
	}
	a.ship()
	got := stacktest.AlertsFor("principal:mallory-enum")
	if got[auditreview.RuleCardAttempts] == 0 || got[auditreview.RuleCardThrottled] == 0 {
		t.Errorf("alerts for the enumerating principal: %v, want %s and %s", got, auditreview.RuleCardAttempts, auditreview.RuleCardThrottled)
	}
}

// TestCardTestingIsThrottled is card testing: many distinct invalid cards. Validation failures count
// as attempts, so the run is throttled, and the review alerts on the failures naming the principal.
func TestCardTestingIsThrottled(t *testing.T) {
	a := newAttackStack(t)
	cus := a.customer("Mule")
	carder := a.token("payments", "carla-carder", "")
	throttledAt := 0
	for i := range 50 {
		bad := fmt.Sprintf("4111%012d", 1000+i*7)
		if card.Luhn([]byte(bad)) {
			bad = bad[:15] + string('0'+(bad[15]-'0'+1)%10)
		}
		resp, body := stacktest.Do(t, a.s, "POST", "/v1/tokens", carder, tokenizeBody(cus, bad, 12, 2034))
		if resp.StatusCode == http.StatusTooManyRequests {
			throttledAt = i + 1
			break
		}
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("invalid card %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if throttledAt == 0 || throttledAt >= 40 {
		t.Fatalf("card testing throttled at attempt %d, want before 40", throttledAt)
	}
	a.ship()
	if got := stacktest.AlertsFor("principal:carla-carder"); got[auditreview.RuleCardFailures] == 0 {
		t.Errorf("alerts for the card tester: %v, want %s", got, auditreview.RuleCardFailures)
	}
}
