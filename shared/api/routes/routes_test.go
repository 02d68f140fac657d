package routes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		method, path string
		wantOp       string
		wantParams   map[string]string
	}{
		{"GET", "/v1/me", "GetMe", map[string]string{}},
		{"GET", "/v1/invoices/in_1", "GetInvoice", map[string]string{"id": "in_1"}},
		{"POST", "/v1/invoices/in_1/finalize", "FinalizeInvoice", map[string]string{"id": "in_1"}},
		{"GET", "/v1/customers/cus_1/tokens", "ListCustomerTokens", map[string]string{"id": "cus_1"}},
		{"POST", "/v1/invoices/in_1/pay", "PayInvoice", map[string]string{"id": "in_1"}},
		{"GET", "/v1/nope", "", nil},
		{"PUT", "/v1/me", "", nil},
	}
	for _, tt := range tests {
		r, params, ok := Match(tt.method, tt.path)
		if ok != (tt.wantOp != "") || r.Operation != tt.wantOp {
			t.Errorf("%s %s: got %q ok=%v, want %q", tt.method, tt.path, r.Operation, ok, tt.wantOp)
			continue
		}
		if ok {
			if diff := cmp.Diff(tt.wantParams, params); diff != "" {
				t.Errorf("%s %s params (-want +got):\n%s", tt.method, tt.path, diff)
			}
		}
	}
	if !PathExists("/v1/me") || PathExists("/v1/nope") {
		t.Error("PathExists disagrees with the table")
	}
}

func TestTableIsConsistent(t *testing.T) {
	keys, ops := map[string]bool{}, map[string]bool{}
	for _, r := range All {
		if keys[r.Key()] || ops[r.Operation] {
			t.Errorf("duplicate route or operation: %s %s", r.Key(), r.Operation)
		}
		keys[r.Key()], ops[r.Operation] = true, true
		if r.Function == "" || r.Action == "" {
			t.Errorf("%s: every route needs a function and an action", r.Key())
		}
	}
}
