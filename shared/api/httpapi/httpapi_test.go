package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

type payload struct {
	Name   string `json:"name"`
	Amount int64  `json:"amount"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		b64        bool
		wantStatus int
		wantField  string
	}{
		{"valid", `{"name":"a","amount":5}`, false, 0, ""},
		{"valid base64", "eyJuYW1lIjoiYSJ9", true, 0, ""},
		{"invalid JSON", `{"name":`, false, 400, ""},
		{"unknown field", `{"name":"a","amont":5}`, false, 400, "amont"},
		{"wrong type", `{"amount":"5"}`, false, 400, "amount"},
		{"float for integer", `{"amount":1.5}`, false, 400, "amount"},
		{"trailing data", `{"name":"a"} {"name":"b"}`, false, 400, ""},
		{"nested too deeply", `{"name":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, false, 400, ""},
		{"empty", ``, false, 400, ""},
		{"too large", `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, false, 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p payload
			err := Decode(&events.APIGatewayProxyRequest{Body: tt.body, IsBase64Encoded: tt.b64}, &p)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			e := problem.From(err)
			if e.Status() != tt.wantStatus {
				t.Fatalf("status %d, want %d (%v)", e.Status(), tt.wantStatus, err)
			}
			if tt.wantField != "" && (len(e.Fields) != 1 || e.Fields[0].Field != tt.wantField) {
				t.Errorf("fields %+v, want %s", e.Fields, tt.wantField)
			}
		})
	}
}

// TestDecodeNeverEchoesTheBody: a card number sent in a malformed body must not come back in the error.
func TestDecodeNeverEchoesTheBody(t *testing.T) {
	const pan = "4242424242424242"
	for _, body := range []string{`{"number":` + pan + `x}`, `{"number":"` + pan + `","extra":1}`, `{"amount":"` + pan + `"}`,
		`{"` + pan + `":1}`, `{"name":"a","` + pan + `":1}`, `{"4242 4242 4242 4242":1}`} {
		err := Decode(&events.APIGatewayProxyRequest{Body: body}, &payload{})
		resp := Error(err, "req-1", nil)
		if err == nil || strings.Contains(resp.Body, "4242") || strings.Contains(err.Error(), "4242") {
			t.Errorf("error for %q echoes the card number: %s", body, resp.Body)
		}
	}
}

func TestErrorIsProblemJSON(t *testing.T) {
	resp := Error(problem.New(problem.InvoiceNotDraft, "Invoice in_1 is open."), "req-9", map[string]string{"X-Request-Id": "req-9"})
	if resp.StatusCode != 409 || resp.Headers["Content-Type"] != "application/problem+json" || resp.Headers["X-Request-Id"] != "req-9" {
		t.Fatalf("%+v", resp)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "title", "status", "detail", "code", "request_id"} {
		if _, ok := p[k]; !ok {
			t.Errorf("problem body lacks %q: %s", k, resp.Body)
		}
	}
	internal := Error(errInternal{}, "req-1", nil)
	if internal.StatusCode != 500 || strings.Contains(internal.Body, "secret table name") {
		t.Errorf("internal error leaks: %s", internal.Body)
	}
}

type errInternal struct{}

func (errInternal) Error() string { return "secret table name vaultbill-billing timed out" }

// TestDecodeRejectsDuplicateAndCaseVariantKeys: Go's decoder matches keys case-insensitively and keeps
// the last duplicate, so {"name":"A","Name":"B"} would store B while a reviewer, a WAF or a log reader
// sees A. Every object of the body, at any depth, must have distinct keys spelt exactly as documented.
func TestDecodeRejectsDuplicateAndCaseVariantKeys(t *testing.T) {
	type line struct {
		Description string `json:"description"`
	}
	type nested struct {
		Name  string            `json:"name"`
		Lines []line            `json:"lines"`
		Meta  map[string]string `json:"meta"`
		Inner *payload          `json:"inner"`
		// Patch reads its own JSON (a merge-patch field) and says which type it holds.
		Patch billing.Optional[payload] `json:"patch"`
	}
	for _, body := range []string{
		`{"name":"A","Name":"B"}`,
		`{"name":"A","name":"B"}`,
		`{"Name":"B"}`,
		`{"NAME":"B"}`,
		`{"name":"A","nam\u0065":"B"}`,
		`{"lines":[{"description":"a","Description":"b"}]}`,
		`{"lines":[{"DESCRIPTION":"b"}]}`,
		`{"inner":{"name":"a","amount":1,"Amount":2}}`,
		`{"meta":{"k":"a","K":"b"}}`,
		`{"meta":{"k":"a","k":"b"}}`,
		`{"meta":{"x":"a"},"meta":{"y":"b"}}`,
		`{"patch":{"Name":"x"}}`,
		`{"patch":{"name":"x","name":"y"}}`,
		`{"patch":{"name":"4242424242424242"}}`,
	} {
		var v nested
		err := Decode(&events.APIGatewayProxyRequest{Body: body}, &v)
		if e := problem.From(err); err == nil || e.Status() != 400 || e.Code != problem.ValidationFailed {
			t.Errorf("%s: accepted (%v), decoded %+v", body, err, v)
		}
	}
	var v nested
	if err := Decode(&events.APIGatewayProxyRequest{Body: `{"name":"A","lines":[{"description":"x"},{"description":"y"}],"meta":{"a":"1","b":"2"},"patch":{"name":"B"}}`}, &v); err != nil || v.Patch.Value.Name != "B" {
		t.Errorf("distinct keys refused: %v", err)
	}
}

// TestDecodeRefusesCardNumbersOutsideCardFields: a card number typed into an id, a memo or a map key
// of a body would be stored in clear (PCI DSS 3.4.1); only a field whose type reads a card number
// (card.PAN) may carry one. Ids must have the shape the API generates. Neither error echoes the value.
func TestDecodeRefusesCardNumbersOutsideCardFields(t *testing.T) {
	type body struct {
		CustomerID string            `json:"customer_id"`
		Token      string            `json:"token"`
		Memo       string            `json:"memo"`
		Meta       map[string]string `json:"meta"`
		Any        any               `json:"any"`
	}
	for _, b := range []string{
		`{"customer_id":"4242424242424242"}`,
		`{"customer_id":"cus_4242424242424242"}`,
		`{"customer_id":"in_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`,
		`{"token":"5555-5555-5555-4444"}`,
		`{"token":"tok_0000"}`,
		`{"memo":"card 4242 4242 4242 4242 exp 12/30"}`,
		`{"meta":{"k":"5555555555554444"}}`,
		`{"meta":{"5555555555554444":"v"}}`,
		`{"any":["x",{"y":"4242424242424242"}]}`,
		`{"any":[4242424242424242]}`,
	} {
		var v body
		err := Decode(&events.APIGatewayProxyRequest{Body: b}, &v)
		e := problem.From(err)
		if err == nil || e.Status() != 400 {
			t.Errorf("%s: accepted (%v)", b, err)
			continue
		}
		resp := Error(err, "req-1", nil)
		if strings.Contains(resp.Body, "4242") || strings.Contains(resp.Body, "5555") || strings.Contains(resp.Body, "cus_") {
			t.Errorf("%s: the error echoes the value: %s", b, resp.Body)
		}
	}
	var v body
	ok := `{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","token":"tok_0123456789abcdef0123456789abcdef","memo":"order 12345"}`
	if err := Decode(&events.APIGatewayProxyRequest{Body: ok}, &v); err != nil {
		t.Errorf("valid ids refused: %v", err)
	}
}

// TestRetryAfter: a refusal that knows when a retry can succeed says so in whole seconds, rounded up.
func TestRetryAfter(t *testing.T) {
	e := &problem.Error{Code: problem.RateLimited, Detail: "Too many card attempts.", RetryAfter: 89500 * time.Millisecond}
	resp := Error(e, "req-1", map[string]string{"X-Request-Id": "req-1"})
	if resp.StatusCode != 429 || resp.Headers["Retry-After"] != "90" {
		t.Errorf("%d Retry-After %q, want 429 and 90", resp.StatusCode, resp.Headers["Retry-After"])
	}
	if _, ok := Error(problem.New(problem.NotFound, "x"), "req-2", nil).Headers["Retry-After"]; ok {
		t.Error("a 404 carries Retry-After")
	}
}
