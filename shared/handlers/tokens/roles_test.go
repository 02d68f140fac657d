package tokens_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestRoleTable checks DESIGN §4 for every token route, every role, and a customer acting on its own
// and on another customer's objects, through the local gateway and authorizer.
func TestRoleTable(t *testing.T) {
	s := stacktest.New(t)
	seedCustomer(t, s, "cus_ownaaaaaaaaaaaaaaaaaaaaaaa")
	seedCustomer(t, s, "cus_otheraaaaaaaaaaaaaaaaaaaaa")
	pay := stacktest.Token(t, s, devstack.TokenSpec{Role: "payments"})
	n := 0
	newToken := func(customer string) string {
		n++
		resp, body := stacktest.Do(t, s, "POST", "/v1/tokens", pay, createBody(customer, cardNumber(9000+n), ""))
		if resp.StatusCode != 201 {
			t.Fatalf("tokenize: %d %s", resp.StatusCode, body)
		}
		return decode[tokens.TokenResponse](t, body).ID
	}
	ownToken := newToken("cus_ownaaaaaaaaaaaaaaaaaaaaaaa")

	callers := []struct {
		name string
		spec devstack.TokenSpec
	}{
		{"admin", devstack.TokenSpec{Role: "admin"}},
		{"billing", devstack.TokenSpec{Role: "billing"}},
		{"payments", devstack.TokenSpec{Role: "payments"}},
		{"auditor", devstack.TokenSpec{Role: "auditor"}},
		{"customer own", devstack.TokenSpec{Role: "customer", CustomerID: "cus_ownaaaaaaaaaaaaaaaaaaaaaaa"}},
		{"customer other", devstack.TokenSpec{Role: "customer", CustomerID: "cus_otheraaaaaaaaaaaaaaaaaaaaa"}},
	}
	// want[route][caller] is the status DESIGN §4 gives; a customer's view of another's object is 404.
	type route struct {
		name, method string
		path         func() string
		body         func(caller string) string
		want         map[string]int
	}
	routesUnderTest := []route{
		{"create", "POST", func() string { return "/v1/tokens" },
			func(caller string) string {
				n++
				return createBody("cus_ownaaaaaaaaaaaaaaaaaaaaaaa", cardNumber(9000+n), "")
			},
			map[string]int{"admin": 403, "billing": 403, "payments": 201, "auditor": 403, "customer own": 201, "customer other": 404}},
		{"get", "GET", func() string { return "/v1/tokens/" + ownToken }, nil,
			map[string]int{"admin": 200, "billing": 403, "payments": 200, "auditor": 200, "customer own": 200, "customer other": 404}},
		{"list", "GET", func() string { return "/v1/customers/cus_ownaaaaaaaaaaaaaaaaaaaaaaa/tokens" }, nil,
			map[string]int{"admin": 200, "billing": 403, "payments": 200, "auditor": 200, "customer own": 200, "customer other": 404}},
		{"delete", "DELETE", func() string { return "/v1/tokens/" + newToken("cus_ownaaaaaaaaaaaaaaaaaaaaaaa") }, nil,
			map[string]int{"admin": 403, "billing": 403, "payments": 200, "auditor": 403, "customer own": 200, "customer other": 404}},
	}
	for _, r := range routesUnderTest {
		for _, c := range callers {
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				tok := stacktest.Token(t, s, c.spec)
				body := ""
				if r.body != nil {
					body = r.body(c.name)
				}
				resp, got := stacktest.Do(t, s, r.method, r.path(), tok, body)
				if resp.StatusCode != r.want[c.name] {
					t.Errorf("%s %s as %s: %d %s, want %d", r.method, r.name, c.name, resp.StatusCode, got, r.want[c.name])
				}
			})
		}
	}
}

// TestLifecycle lists with a cursor, deletes (crypto-shreds) a token, and tokenizes the card again.
func TestLifecycle(t *testing.T) {
	s := stacktest.New(t)
	seedCustomer(t, s, "cus_aliceaaaaaaaaaaaaaaaaaaaaa")
	pay := stacktest.Token(t, s, devstack.TokenSpec{Role: "payments"})
	var ids []string
	for i := range 3 {
		_, body := stacktest.Do(t, s, "POST", "/v1/tokens", pay, createBody("cus_aliceaaaaaaaaaaaaaaaaaaaaa", cardNumber(i), ""))
		ids = append(ids, decode[tokens.TokenResponse](t, body).ID)
	}
	var seen []string
	path := "/v1/customers/cus_aliceaaaaaaaaaaaaaaaaaaaaa/tokens?limit=2"
	for page := 0; ; page++ {
		resp, body := stacktest.Do(t, s, "GET", path, pay, "")
		if resp.StatusCode != 200 {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		l := decode[tokens.ListResponse](t, body)
		for _, tok := range l.Data {
			seen = append(seen, tok.ID)
		}
		if !l.HasMore {
			break
		}
		if page > 2 {
			t.Fatal("list does not end")
		}
		path = "/v1/customers/cus_aliceaaaaaaaaaaaaaaaaaaaaa/tokens?limit=2&cursor=" + l.NextCursor
	}
	want := []string{ids[2], ids[1], ids[0]} // newest first
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("listed %v, want %v", seen, want)
	}
	for _, bad := range []string{"?cursor=bm90LWEtY3Vyc29y", "?limit=0", "?limit=101"} {
		if resp, body := stacktest.Do(t, s, "GET", "/v1/customers/cus_aliceaaaaaaaaaaaaaaaaaaaaa/tokens"+bad, pay, ""); resp.StatusCode != 400 {
			t.Errorf("list%s: %d %s, want 400", bad, resp.StatusCode, body)
		}
	}
	if resp, _ := stacktest.Do(t, s, "GET", "/v1/customers/cus_nobodyaaaaaaaaaaaaaaaaaaaa/tokens", pay, ""); resp.StatusCode != 404 {
		t.Errorf("tokens of a missing customer: %d, want 404", resp.StatusCode)
	}

	resp, body := stacktest.Do(t, s, "DELETE", "/v1/tokens/"+ids[0], pay, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"deleted":true`) {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if resp, _ := stacktest.Do(t, s, m, "/v1/tokens/"+ids[0], pay, ""); resp.StatusCode != 404 {
			t.Errorf("%s deleted token: %d, want 404", m, resp.StatusCode)
		}
	}
	if strings.Contains(everythingStored(t, s), "TOK#"+ids[0]) {
		t.Error("the deleted token's item (and its ciphertext) is still stored")
	}
	resp, body = stacktest.Do(t, s, "POST", "/v1/tokens", pay, createBody("cus_aliceaaaaaaaaaaaaaaaaaaaaa", cardNumber(0), ""))
	if resp.StatusCode != 201 || strings.Contains(body, ids[0]) {
		t.Errorf("the deleted card tokenized again: %d %s, want a new token", resp.StatusCode, body)
	}
	if resp, _ := stacktest.Do(t, s, "GET", "/v1/tokens/tok_00000000000000000000000000000000", pay, ""); resp.StatusCode != 404 {
		t.Errorf("unknown token: %d, want 404", resp.StatusCode)
	}
}

// TestSampleEvents runs the tokens function on the sample events in events/tokens, as
// `vaultbill invoke tokens --event ...` does.
func TestSampleEvents(t *testing.T) {
	s := stacktest.New(t)
	seedCustomer(t, s, "cus_2f2c7a3b7e4d4c3a6b5e6d7c5f")
	svc, _ := serviceWith(t, s, kmsClient(s))
	load := func(name, tokenID string) events.APIGatewayProxyRequest {
		b, err := os.ReadFile("../../../events/tokens/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if tokenID != "" {
			b = []byte(strings.ReplaceAll(string(b), "tok_5b8e2f0c1d3a4e6f9a7b8c0d1e2f3a4b", tokenID))
		}
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return ev
	}
	serve := func(name, tokenID string, want int) string {
		resp, err := svc.Serve(context.Background(), load(name, tokenID))
		if err != nil || resp.StatusCode != want {
			t.Fatalf("%s: %d %s %v, want %d", name, resp.StatusCode, resp.Body, err, want)
		}
		return resp.Body
	}
	id := decode[tokens.TokenResponse](t, serve("create-token.json", "", http.StatusCreated)).ID
	serve("get-token.json", id, http.StatusOK)
	if l := decode[tokens.ListResponse](t, serve("list-customer-tokens.json", "", http.StatusOK)); len(l.Data) != 1 {
		t.Errorf("list: %+v", l)
	}
	serve("delete-token.json", id, http.StatusOK)
}
