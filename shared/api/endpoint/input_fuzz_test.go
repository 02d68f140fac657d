package endpoint

import (
	"strings"
	"testing"
	"unicode"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// fuzzRoutes are route shapes of the API: an id path parameter, a non-id one, none.
var fuzzRoutes = []routes.Route{
	{Method: "GET", Path: "/v1/customers/{id}"},
	{Method: "GET", Path: "/v1/invoices/{id}/credit-notes"},
	{Method: "GET", Path: "/v1/tokens/{id}"},
	{Method: "GET", Path: "/v1/reports/{name}"},
	{Method: "GET", Path: "/v1/invoices"},
}

// FuzzCheckInput checks the path and query parameters checkInput lets through to a handler and into
// an audit record: an accepted id path parameter is an id of its collection's kind, every accepted
// value is printable, bounded and free of card numbers, an id query parameter (customer_id) is
// well-formed; a refused path is a 404 and a refused query a 400, and no refusal names a card number
// or repeats a refused value.
func FuzzCheckInput(f *testing.F) {
	for _, v := range []string{
		"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa", "in_aaaaaaaaaaaaaaaaaaaaaaaaaa", "tok_0123456789abcdef0123456789abcdef",
		"", "4111111111111111", "cus_4111111111111111aaaaaaaaaa", "..%2f..", "a\x00b", "\u202ecus", strings.Repeat("x", 3000),
	} {
		f.Add(uint8(0), v, "customer_id", v)
		f.Add(uint8(3), v, "status", v)
		f.Add(uint8(4), v, v, "paid")
	}
	// A refused value's parameter is named in the refusal; HTML-escaped, "&" became the digits 0026.
	f.Add(uint8(4), "", "&11111111110", "\x00")
	f.Fuzz(func(t *testing.T, which uint8, pathValue, key, value string) {
		route := fuzzRoutes[int(which)%len(fuzzRoutes)]
		req := &events.APIGatewayProxyRequest{
			PathParameters:        map[string]string{"id": pathValue, "name": pathValue},
			QueryStringParameters: map[string]string{key: value, "limit": "10"},
		}
		bad, err := checkInput(req, route)
		if err != nil {
			e := problem.From(err)
			b := httpapi.Error(err, "req-1", nil).Body // what the caller receives
			if logging.ContainsPAN(b) || logging.ContainsPAN(err.Error()) {
				t.Fatalf("refusal names a card number: %s", b)
			}
			if e.Status() != 404 && e.Status() != 400 {
				t.Fatalf("refusal is %d: %s", e.Status(), b)
			}
			for name := range bad {
				for _, v := range []string{req.PathParameters[name], req.QueryStringParameters[name]} {
					if len(v) >= 8 && strings.Contains(b, v) && !strings.Contains(e.Title()+"is not a parameter name", v) {
						t.Fatalf("refusal repeats the refused value %q: %s", v, b)
					}
				}
			}
			if len(bad) == 0 {
				t.Fatalf("refusal marks no parameter as invalid: %v", err)
			}
			return
		}
		if len(bad) > 0 {
			t.Fatalf("accepted request with invalid parameters %v", bad)
		}
		segs := strings.Split(strings.Trim(route.Path, "/"), "/")
		for i, seg := range segs {
			if seg != "{id}" && seg != "{name}" {
				continue
			}
			if prefix, isID := ids.ForCollection(segs[i-1]); isID && !ids.Valid(prefix, pathValue) {
				t.Fatalf("accepted %q as a %s id", pathValue, ids.Kind(prefix))
			}
			checkSafe(t, pathValue)
		}
		checkSafe(t, key)
		checkSafe(t, value)
		if prefix, isID := ids.ForField(key); isID && value != "" && !ids.Valid(prefix, value) {
			t.Fatalf("accepted %s=%q", key, value)
		}
	})
}

func checkSafe(t *testing.T, v string) {
	t.Helper()
	if len(v) > maxParamLength || logging.ContainsPAN(v) || strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) {
		t.Fatalf("accepted parameter value %q", v)
	}
}
