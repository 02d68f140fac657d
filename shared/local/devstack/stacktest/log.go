package stacktest

import (
	"bytes"
	"log/slog"
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

// Logger is the production logger (JSON, redacting) writing into Logs.
func Logger(testing.TB) *slog.Logger { return logging.New(Logs, slog.LevelDebug) }
