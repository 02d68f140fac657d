package adversarial_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// planted are the card numbers an attacker (or a careless client) types where no card number belongs,
// as digits and in the groupings people write them with.
var planted = []string{"4242424242424242", "5555555555554444", "4242 4242 4242 4242", "5555-5555-5555-4444"}

// queryNames are the query parameters of every list route, and one no route knows.
var queryNames = []string{"customer_id", "invoice_id", "token", "status", "limit", "cursor", "since", "until",
	"principal", "event_name", "resource_id", "x_custom"}

// bodies are route-specific request bodies with a card number where an id or a text belongs; routes
// not listed get genericBody.
var bodies = map[string]func(pan string) string{
	"CreateCustomer": func(pan string) string { return jsonOf(map[string]any{"name": pan, "email": "ada@example.com"}) },
	"UpdateCustomer": func(pan string) string { return jsonOf(map[string]any{"name": pan}) },
	"CreateInvoice": func(pan string) string {
		return jsonOf(map[string]any{"customer_id": pan, "currency": "EUR",
			"lines": []any{map[string]any{"description": "Consulting", "quantity": 1, "unit_amount": 1000}}})
	},
	"UpdateInvoice": func(pan string) string { return jsonOf(map[string]any{"memo": pan}) },
	"CreateToken": func(pan string) string {
		return jsonOf(map[string]any{"customer_id": pan,
			"card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
	},
	"PayInvoice": func(pan string) string { return jsonOf(map[string]any{"token": pan}) },
}

func genericBody(pan string) string {
	return jsonOf(map[string]any{"customer_id": pan, "invoice_id": pan, "token": pan})
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// attacker is the stack and a token for each staff role.
type attacker struct {
	t      *testing.T
	s      *devstack.Stack
	tokens map[auth.Role]string
	sent   int
}

// tokenFor returns the token of a role the route allows, so that the request goes past the
// permission check into the route's own code.
func (a *attacker) tokenFor(r routes.Route) string {
	for _, role := range []auth.Role{auth.Admin, auth.Billing, auth.Payments, auth.Auditor} {
		if (auth.Principal{ID: "x", Role: role, MFA: true}).Authorize(r.Action) == nil {
			return a.tokens[role]
		}
	}
	return a.tokens[auth.Admin]
}

func (a *attacker) do(method, path, token, body string, headers ...string) (int, string) {
	a.t.Helper()
	a.sent++
	resp, got := stacktest.Do(a.t, a.s, method, path, token, body, headers...)
	if logging.ContainsPAN(got) {
		a.t.Errorf("%s %s: the response holds a card number: %s", method, logging.Redact(path), logging.Redact(got))
	}
	return resp.StatusCode, got
}

// mustCreate sends a legitimate request and returns the id of what it created.
func (a *attacker) mustCreate(role auth.Role, path, body string) string {
	a.t.Helper()
	status, got := a.do("POST", path, a.tokens[role], body)
	if status != 201 && status != 200 {
		a.t.Fatalf("POST %s: %d %s", path, status, got)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(got), &out); err != nil {
		a.t.Fatal(err)
	}
	return out.ID
}

// TestPlantedCardNumbersAreNeverStored: card numbers planted in every path parameter, query parameter,
// header and body id of every route, with the caller allowed to use the route, are refused or
// redacted everywhere: after the audit trail is shipped and digested, no table item, no version of any
// object in any bucket and no log line holds one in clear. A card tokenized legitimately is held only
// sealed by the vault.
func TestPlantedCardNumbersAreNeverStored(t *testing.T) {
	s := stacktest.New(t)
	a := &attacker{t: t, s: s, tokens: map[auth.Role]string{}}
	for _, role := range []auth.Role{auth.Admin, auth.Billing, auth.Payments, auth.Auditor} {
		a.tokens[role] = stacktest.Token(t, s, devstack.TokenSpec{Role: string(role), Subject: string(role) + "-user"})
	}

	// Legitimate objects, so that requests with valid ids reach deep into each route.
	customer := a.mustCreate(auth.Billing, "/v1/customers", `{"name":"Ada Lovelace","email":"ada@example.com"}`)
	invoiceBody := fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Consulting","quantity":2,"unit_amount":5000}]}`, customer)
	paid := a.mustCreate(auth.Billing, "/v1/invoices", invoiceBody)
	open := a.mustCreate(auth.Billing, "/v1/invoices", invoiceBody)
	for _, id := range []string{paid, open} {
		if status, body := a.do("POST", "/v1/invoices/"+id+"/finalize", a.tokens[auth.Billing], ""); status != 200 {
			t.Fatalf("finalize: %d %s", status, body)
		}
	}
	token := a.mustCreate(auth.Payments, "/v1/tokens", fmt.Sprintf(
		`{"customer_id":%q,"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123","name":"Ada Lovelace"}}`, customer))
	if status, body := a.do("POST", "/v1/invoices/"+paid+"/pay", a.tokens[auth.Payments], fmt.Sprintf(`{"token":%q}`, token)); status != 200 {
		t.Fatalf("pay: %d %s", status, body)
	}
	valid := map[string]string{"customers": customer, "invoices": open, "tokens": token}

	for _, r := range routes.All {
		tok := a.tokenFor(r)
		body := genericBody
		if b, ok := bodies[r.Operation]; ok {
			body = b
		}
		for _, pan := range planted {
			var query url.Values = map[string][]string{}
			for _, q := range queryNames {
				query.Set(q, pan)
			}
			headers := []string{"User-Agent", "curl/8 " + pan, "X-Forwarded-For", pan, "X-Vaultbill-Note", pan}
			withBody := func(m string) string {
				if m == "POST" || m == "PATCH" {
					return body(pan)
				}
				return ""
			}
			// 1. Every path parameter, every query parameter, every header and the body.
			a.do(r.Method, fill(r.Path, func(string) string { return pan })+"?"+query.Encode(), tok, withBody(r.Method),
				append(headers, "Idempotency-Key", pan)...)
			// 2. Valid ids in the path, so the request reaches the route's code; the card number in
			// the query string and the headers.
			validPath := fill(r.Path, func(collection string) string {
				if id, ok := valid[collection]; ok {
					return id
				}
				return "unknown"
			})
			a.do(r.Method, validPath+"?"+query.Encode(), tok, withBody(r.Method), headers...)
			// 3. Valid ids and no query string: the card number in the body and the headers only.
			if r.Method == "DELETE" {
				continue // deleting the token would leave nothing for the other routes to reach
			}
			a.do(r.Method, validPath, tok, withBody(r.Method), append(headers, "Idempotency-Key", "k-"+r.Operation+"-"+strings.ReplaceAll(pan, " ", "_"))...)
		}
	}
	// Refusals by the authorizer: a card number as the bearer token, and a token without MFA.
	noMFA := stacktest.Token(t, s, devstack.TokenSpec{Role: "admin", NoMFA: true})
	for _, pan := range planted {
		a.do("GET", "/v1/me", pan, "", "User-Agent", pan)
		a.do("GET", "/v1/customers/"+url.PathEscape(pan), noMFA, "", "User-Agent", pan, "X-Forwarded-For", pan)
	}

	ctx := context.Background()
	shipped, err := s.Audit.ShipNow(ctx)
	if err != nil {
		t.Fatalf("ship the audit trail: %v", err)
	}
	if _, err := s.Audit.DigestNow(ctx); err != nil {
		t.Fatalf("digest the audit trail: %v", err)
	}
	if shipped < a.sent {
		t.Errorf("%d audit records shipped for %d requests: the scan would prove little", shipped, a.sent)
	}
	t.Logf("%d requests sent, %d audit records shipped", a.sent, shipped)
	for _, where := range stacktest.CardNumbersAtRest(t, s) {
		t.Errorf("a card number is stored in clear: %s", where)
	}
	if strings.Contains(stacktest.Logs.String(), "ALERT: card number in an audit record") {
		t.Errorf("the audit writer had to mask a record: some path builds records without redacting them")
	}
}

// fill replaces each {param} of a route path with value(collection), where collection is the path
// segment before it ("customers" for /v1/customers/{id}), escaped for a URL.
func fill(path string, value func(collection string) string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && i > 0 {
			segs[i] = url.PathEscape(value(segs[i-1]))
		}
	}
	return strings.Join(segs, "/")
}
