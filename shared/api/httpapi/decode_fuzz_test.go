package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// fuzzBody has the shapes request bodies have: strings, integers, an id field, a list, a map and a
// nested object.
type fuzzBody struct {
	Name       string            `json:"name"`
	CustomerID string            `json:"customer_id,omitempty"`
	Amount     int64             `json:"amount"`
	Paid       bool              `json:"paid"`
	Tags       []string          `json:"tags"`
	Metadata   map[string]string `json:"metadata"`
	Address    *fuzzAddress      `json:"address"`
}

type fuzzAddress struct {
	Line1   string `json:"line1"`
	Country string `json:"country"`
}

// fuzzCardBody carries the one field that may hold a card number.
type fuzzCardBody struct {
	Card card.Input `json:"card"`
}

// FuzzDecode feeds arbitrary bodies to Decode. An accepted body re-encodes to an equivalent value and
// has each top-level key once, spelt as documented; a refused one is a 400 or 413 whose problem body
// holds no card number; anything over MaxBodyBytes is a 413.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"Ada","amount":5}`,
		`{"name":"Ada","customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","tags":["a","b"],"metadata":{"k":"v"},"address":{"line1":"1 Rue","country":"FR"}}`,
		`{"name":"a","Name":"b"}`,
		`{"name":"a","name":"b"}`,
		`{"NAME":"a"}`,
		`{"address":{"line1":"x","LINE1":"y"}}`,
		`{"name":"4111111111111111"}`,
		`{"metadata":{"4111111111111111":"x"}}`,
		`{"amount":4111111111111111}`,
		`{"amont":5}`,
		`{"amount":"5"}`,
		`{"amount":1e400}`,
		`{"amount":9223372036854775808}`,
		`{"name":"\u0000\ud800"}`,
		`{"name":"a"} {"name":"b"}`,
		`{"name":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		`[]`, `null`, `"x"`, ``, `{`, `{"customer_id":"cus_4111111111111111"}`,
		`{"card":{"number":"4111111111111111","exp_month":12,"exp_year":2030}}`,
	} {
		f.Add([]byte(s), false, false)
	}
	f.Add([]byte(`{"name":"Ada"}`), true, false)
	f.Add([]byte(`{"name":"Ada"}`), false, true)
	f.Fuzz(func(t *testing.T, body []byte, b64, pad bool) {
		raw := body
		if pad { // the same body with trailing whitespace past the limit
			raw = append(bytes.Clone(body), bytes.Repeat([]byte(" "), MaxBodyBytes+1-min(len(body), MaxBodyBytes))...)
		}
		req := &events.APIGatewayProxyRequest{Body: string(raw)}
		if b64 {
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(raw), true
		}
		var v fuzzBody
		err := Decode(req, &v)
		if len(raw) > MaxBodyBytes {
			if err == nil || problem.From(err).Status() != http.StatusRequestEntityTooLarge {
				t.Fatalf("a body of %d bytes was not refused as too large: %v", len(raw), err)
			}
		}
		if err != nil {
			checkRefusal(t, err)
			var c fuzzCardBody // the card field's own errors must not echo it either
			if err := Decode(req, &c); err != nil {
				checkRefusal(t, err)
			}
			return
		}
		checkKeys(t, raw)
		again, merr := json.Marshal(v)
		if merr != nil {
			t.Fatalf("accepted value does not encode: %v", merr)
		}
		var w fuzzBody
		if err := Decode(&events.APIGatewayProxyRequest{Body: string(again)}, &w); err != nil {
			t.Fatalf("re-encoded body %s is refused: %v", again, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("decode→encode→decode changed the value: %#v != %#v", v, w)
		}
	})
}

// checkRefusal asserts a refusal is a client error whose response body holds no card number.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	resp := Error(err, "req-1", nil)
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("refusal is %d, want 400 or 413: %v", resp.StatusCode, err)
	}
	if logging.ContainsPAN(resp.Body) || logging.ContainsPAN(err.Error()) {
		t.Fatalf("refusal echoes a card number: %s", resp.Body)
	}
}

// checkKeys asserts each key of the accepted top-level object is a documented name, once.
func checkKeys(t *testing.T, body []byte) {
	t.Helper()
	names := map[string]bool{}
	for i := range reflect.TypeFor[fuzzBody]().NumField() {
		tag := reflect.TypeFor[fuzzBody]().Field(i).Tag.Get("json")
		names[strings.Split(tag, ",")[0]] = true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		t.Fatalf("accepted body has no object: %v", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		key := k.(string)
		if !names[key] || seen[key] {
			t.Fatalf("accepted body has key %q undocumented or twice", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
}
