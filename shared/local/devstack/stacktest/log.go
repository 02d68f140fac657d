package stacktest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/vaultbill/vaultbill/shared/api/logging"
)

// Logs collects everything the stacks of this test binary logged, so tests can scan it for secrets.
var Logs = &syncBuffer{}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger is the production logger (JSON, redacting) writing into Logs. If the test fails, the
// warnings and errors its stack logged are printed with it: a failure the stack only logged (a
// shipper's batch that failed, a digest that could not be written) says why.
func Logger(tb testing.TB) *slog.Logger {
	own := &syncBuffer{}
	tb.Cleanup(func() {
		if !tb.Failed() {
			return
		}
		for _, line := range strings.Split(own.String(), "\n") {
			var l struct{ Level string }
			if json.Unmarshal([]byte(line), &l) == nil && (l.Level == "WARN" || l.Level == "ERROR") {
				tb.Log("stack logged: " + line)
			}
		}
	})
	return logging.New(io.MultiWriter(Logs, own), slog.LevelDebug)
}

// AlertsFor counts, by rule, the audit alerts logged into Logs about subject ("principal:<id>").
func AlertsFor(subject string) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(Logs.String(), "\n") {
		var l struct{ Msg, Rule, Subject string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "audit alert" && l.Subject == subject {
			out[l.Rule]++
		}
	}
	return out
}
