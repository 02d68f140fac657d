// Package logging builds the JSON slog loggers Vaultbill uses, with
// redaction applied to every record.
//
// PCI DSS requires that card numbers, security codes, credentials and key
// material never reach the logs. Rather than trusting every call site, the
// loggers built here route every record through NewRedactingHandler, so a
// careless slog.Any("req", req) is cleaned before it is written.
//
// Lambda entry points should build one logger with FromEnv, install it with
// slog.SetDefault, and derive request loggers with WithRequest and Into.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
)

// New returns a logger that writes JSON records at or above level to w,
// with every record redacted first.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(NewRedactingHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// EnvLevel names the log level every function is given (the CDK app sets info).
const EnvLevel = "LOG_LEVEL"

// FromEnv returns New(w, level) with the level taken from the LOG_LEVEL
// environment variable: debug, info, warn or error, case-insensitively.
// An unset or unknown value means info, so a typo in a deployment cannot
// silence error logs; an unknown value is reported as a warning.
func FromEnv(w io.Writer) *slog.Logger {
	raw := os.Getenv(EnvLevel)
	level, ok := parseLevel(raw)
	l := New(w, level)
	if !ok {
		l.Warn("unrecognised LOG_LEVEL, using info", slog.String("log_level", raw))
	}
	return l
}

func parseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// WithRequest returns l with a request_id attribute, so every line logged
// while serving one request can be correlated. A nil l means slog.Default().
func WithRequest(l *slog.Logger, requestID string) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return l.With(slog.String("request_id", requestID))
}

type ctxKey struct{}

// Into returns a copy of ctx carrying l, so code deep in a request can log
// with the request's attributes without threading a logger through every
// signature.
func Into(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the logger stored in ctx by Into. Without one it returns
// slog.Default(), so callers never need a nil check; entry points should
// have installed a redacting default with slog.SetDefault.
func From(ctx context.Context) *slog.Logger {
	if ctx != nil {
		if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok && l != nil {
			return l
		}
	}
	return slog.Default()
}
