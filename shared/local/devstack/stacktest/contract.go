package stacktest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/vaultbill/vaultbill/shared/api/routes"
)

// contract is docs/openapi.yaml loaded once per test binary. The validator is not documented as safe
// for concurrent use, and tests send requests concurrently, so calls are serialized.
var contract struct {
	once sync.Once
	mu   sync.Mutex
	v    validator.Validator
	err  error
}

// OpenAPIPath is the API document every response of the integration tests is checked against.
func OpenAPIPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "docs", "openapi.yaml")
}

func loadContract() {
	raw, err := os.ReadFile(OpenAPIPath())
	if err != nil {
		contract.err = err
		return
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		contract.err = err
		return
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		contract.err = fmt.Errorf("docs/openapi.yaml: %v", errs)
		return
	}
	contract.v = v
}

// CheckContract fails the test when a response of an API route does not match docs/openapi.yaml: its
// status must be documented for the operation and its body must match the documented schema. Paths
// outside the route table (the local /health, unknown paths) are not part of the contract.
func CheckContract(tb testing.TB, req *http.Request, resp *http.Response, body string) {
	tb.Helper()
	if _, _, ok := routes.Match(req.Method, req.URL.Path); !ok {
		return
	}
	contract.once.Do(loadContract)
	if contract.err != nil {
		tb.Fatalf("load the API contract: %v", contract.err)
	}
	copyResp := *resp
	copyResp.Body = io.NopCloser(strings.NewReader(body))
	copyReq := req.Clone(req.Context())
	copyReq.Body = io.NopCloser(bytes.NewReader(nil))
	contract.mu.Lock()
	ok, errs := contract.v.ValidateHttpResponse(copyReq, &copyResp)
	contract.mu.Unlock()
	if ok {
		return
	}
	var msg strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&msg, "\n  %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&msg, "\n    %s: %s", f.FieldPath, f.Reason)
		}
	}
	tb.Errorf("%s %s → %d does not match docs/openapi.yaml:%s\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, msg.String(), body)
}
