package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	"github.com/google/go-cmp/cmp"
)

// decodeLines parses buf as JSON lines, failing the test on invalid JSON:
// redaction must never break the log format the log pipeline parses.
func decodeLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("invalid JSON log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// assertNoSecrets searches the raw output, since a secret that escaped
// anywhere (a key, a nested string, an escaped sequence) is a leak.
func assertNoSecrets(t *testing.T, out []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("log output contains secret %q:\n%s", s, out)
		}
	}
}

var panSecrets = []string{
	visa, visa[4:], // full PAN and its last 12 digits
	mastercard, mastercard[4:],
	"4242 4242 4242 4242", "4242-4242-4242-4242",
	testJWT, testJWT[:40],
	"BEGIN RSA PRIVATE KEY",
}

func TestHandlerRedactsRecords(t *testing.T) {
	var buf bytes.Buffer
	l := WithRequest(New(&buf, slog.LevelDebug), "req-7f3a")

	l.Info("charge failed for card "+visa, "amount", 1999, "token", "tok_123")
	l.Info("card details",
		"cvc", 737,
		"card", map[string]any{"number": mastercard, "cvc": "737", "brand": "mastercard", "last4": "4444"},
		"amount", 2500,
	)
	l.WithGroup("payment").With("currency", "usd").Info("nested",
		slog.Group("card",
			slog.String("number", visa),
			slog.Group("meta", slog.String("note", "entered as 4242 4242 4242 4242"), slog.String("token", "tok_123")),
		),
		slog.Int("amount", 1999),
	)
	l.Error("charge failed", "err", fmt.Errorf("processor rejected card %s: %w", "4242-4242-4242-4242", errors.New("declined")))

	type card struct {
		Number string
		CVC    string
		Brand  string
		Last4  string
		Nested struct {
			SecurityCode int `json:"security_code"`
			Holder       string
		}
	}
	c := card{Number: visa, CVC: "737", Brand: "visa", Last4: "4242"}
	c.Nested.SecurityCode = 737
	c.Nested.Holder = "J Doe"
	l.Warn("card struct", "card", c, "token", "tok_123")
	l.Debug("pointer to struct", "card", &c)

	withJWT := l.With("authorization", "Bearer "+testJWT, "session", testJWT, "header", "Authorization: Bearer "+testJWT)
	withJWT.Info("authenticated", "amount", 10)

	l.Info("key loaded", "blob", testPEM, "datakey", []byte("0123456789abcdef"), "raw", []byte{0xde, 0xad})
	l.Info("int pan", slog.Int64("n", 4242424242424242), slog.Uint64("u", 5555555555554444), slog.Float64("f", 4242424242424242))

	out := buf.Bytes()
	assertNoSecrets(t, out, panSecrets...)
	assertNoSecrets(t, out,
		`"cvc":737`, `"cvc":"737"`, `"CVC":"737"`, `"security_code":737`, `"number":"5555`,
		"0123456789abcdef", "3q0=", // the data key and base64 of the raw bytes
	)

	lines := decodeLines(t, &buf)
	if len(lines) != 9 {
		t.Fatalf("got %d log lines, want 9:\n%s", len(lines), out)
	}
	for i, m := range lines {
		if m["request_id"] != "req-7f3a" {
			t.Errorf("line %d: request_id = %v, want req-7f3a", i, m["request_id"])
		}
	}

	// Exact shapes of selected lines: redacted where needed, intact elsewhere.
	check := func(i int, path string, want any) {
		t.Helper()
		var got any = lines[i]
		for p := range strings.SplitSeq(path, ".") {
			m, ok := got.(map[string]any)
			if !ok {
				t.Errorf("line %d: %s: %v is not an object", i, path, got)
				return
			}
			got = m[p]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("line %d: %s mismatch (-want +got):\n%s", i, path, diff)
		}
	}
	check(0, "msg", "charge failed for card "+panMark)
	check(0, "amount", 1999.0)
	check(0, "token", "tok_123")
	check(1, "cvc", redactedMark)
	check(1, "card", map[string]any{"number": redactedMark, "cvc": redactedMark, "brand": "mastercard", "last4": "4444"})
	check(1, "amount", 2500.0)
	check(2, "payment.currency", "usd")
	check(2, "payment.amount", 1999.0)
	check(2, "payment.card.number", redactedMark)
	check(2, "payment.card.meta.note", "entered as "+panMark)
	check(2, "payment.card.meta.token", "tok_123")
	check(3, "err", "processor rejected card "+panMark+": declined")
	wantCard := map[string]any{
		"Number": redactedMark, "CVC": redactedMark, "Brand": "visa", "Last4": "4242",
		"Nested": map[string]any{"security_code": redactedMark, "Holder": "J Doe"},
	}
	check(4, "card", wantCard)
	check(4, "token", "tok_123")
	check(5, "card", wantCard)
	check(6, "authorization", redactedMark)
	check(6, "session", jwtMark)
	check(6, "header", "Authorization: Bearer "+redactedMark)
	check(6, "amount", 10.0)
	check(7, "blob", keyMark)
	check(7, "datakey", redactedMark)
	check(7, "raw", "[REDACTED:BYTES len=2]")
	check(8, "n", panMark)
	check(8, "u", panMark)
	check(8, "f", panMark)
}

// secretValuer defers building its value, as a request type might; the
// handler must check what it resolves to.
type secretValuer struct{ pan string }

func (v secretValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("card", v.pan), slog.String("cvc", "737"), slog.String("status", "ok"))
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type cents int64

func TestHandlerValueKinds(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, slog.LevelInfo)

	var nilErr *customErr
	l.Info("kinds",
		"valuer", secretValuer{pan: visa},
		"stringer", stringer{"card " + mastercard},
		"cents", cents(1999),
		"big_cents", cents(4242424242424242),
		"nil_err", nilErr,
		"nil", nil,
		"slice", []string{"ok", visa},
		"raw_json", json.RawMessage(`{"pan":"x","note":"`+visa+`"}`),
		"unloggable", make(chan int),
	)
	assertNoSecrets(t, buf.Bytes(), panSecrets...)
	assertNoSecrets(t, buf.Bytes(), `"cvc":"737"`) // not bare "737": timestamps may contain it

	m := decodeLines(t, &buf)[0]
	want := map[string]any{
		"valuer":     map[string]any{"card": panMark, "cvc": redactedMark, "status": "ok"},
		"stringer":   "card " + panMark,
		"cents":      1999.0,
		"big_cents":  panMark,
		"nil_err":    "<nil>",
		"nil":        nil,
		"slice":      []any{"ok", panMark},
		"raw_json":   map[string]any{"pan": redactedMark, "note": panMark},
		"unloggable": "[UNLOGGABLE chan int]",
	}
	for k, w := range want {
		if diff := cmp.Diff(w, m[k]); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", k, diff)
		}
	}
}

type customErr struct{ msg string }

func (e *customErr) Error() string { return e.msg }

func TestHandlerSensitiveGroup(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, slog.LevelInfo)
	l.WithGroup("password").With("old", "hunter2").Info("changed", "new", "correct horse", slog.Group("g", "x", "y"))
	l.Info("group attr", slog.Group("secret", "a", "hunter2"))
	assertNoSecrets(t, buf.Bytes(), "hunter2", "correct horse", `"x":"y"`)
}

func TestHandlerLeavesCleanRecordsAlone(t *testing.T) {
	var got, want bytes.Buffer
	redacted := New(&got, slog.LevelInfo)
	plain := slog.New(slog.NewJSONHandler(&want, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for _, l := range []*slog.Logger{redacted, plain} {
		l = WithRequest(l, "req-1").WithGroup("charge")
		l.Info("captured", "amount", 1999, "currency", "usd", "token", "tok_123", "order", "ORD-20261124-0042",
			slog.Group("customer", "id", "cus_9", "country", "NZ"))
		l.Debug("filtered out")
	}
	// Timestamps differ; compare everything else.
	g, w := decodeLines(t, &got), decodeLines(t, &want)
	for _, lines := range [][]map[string]any{g, w} {
		for _, m := range lines {
			delete(m, "time")
		}
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("clean record changed by redaction (-plain +redacted):\n%s", diff)
	}
}

// TestHandlerConformance runs the standard library's handler test suite, so
// the wrapper keeps slog's semantics (groups, WithAttrs, resolution, empty
// attributes) intact.
func TestHandlerConformance(t *testing.T) {
	var buf bytes.Buffer
	h := NewRedactingHandler(slog.NewJSONHandler(&buf, nil))
	results := func() []map[string]any {
		var ms []map[string]any
		for line := range bytes.SplitSeq(buf.Bytes(), []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		return ms
	}
	if err := slogtest.TestHandler(h, results); err != nil {
		t.Error(err)
	}
}

func TestHandlerEnabled(t *testing.T) {
	h := NewRedactingHandler(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if h.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("info enabled on a warn handler")
	}
	if !h.Enabled(context.Background(), slog.LevelError) {
		t.Error("error disabled on a warn handler")
	}
}

// BenchmarkHandlerClean measures the cost of a typical record with nothing
// to redact, which is what almost every log line is.
func BenchmarkHandlerClean(b *testing.B) {
	l := WithRequest(New(io.Discard, slog.LevelInfo), "c6f2a1d4-8e1b-4c3a-9d2e-7b5f0a1c2d3e")
	b.ReportAllocs()
	for b.Loop() {
		l.Info("payment captured", "amount", 1999, "currency", "usd", "token", "tok_123", "customer", "cus_9", "status", "succeeded")
	}
}

// BenchmarkHandlerCleanBaseline is the same record through a bare JSON
// handler, to show the redaction overhead by comparison.
func BenchmarkHandlerCleanBaseline(b *testing.B) {
	l := slog.New(slog.NewJSONHandler(io.Discard, nil)).With("request_id", "c6f2a1d4-8e1b-4c3a-9d2e-7b5f0a1c2d3e")
	b.ReportAllocs()
	for b.Loop() {
		l.Info("payment captured", "amount", 1999, "currency", "usd", "token", "tok_123", "customer", "cus_9", "status", "succeeded")
	}
}
