package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/problem"
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
	for _, body := range []string{`{"number":` + pan + `x}`, `{"number":"` + pan + `","extra":1}`, `{"amount":"` + pan + `"}`} {
		err := Decode(&events.APIGatewayProxyRequest{Body: body}, &payload{})
		resp := Error(err, "req-1", nil)
		if strings.Contains(resp.Body, pan) || strings.Contains(err.Error(), pan) {
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
