package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		env       string
		wantDebug bool
		wantInfo  bool
		wantWarn  bool // a warning about the value itself
	}{
		{"", false, true, false},
		{"debug", true, true, false},
		{"DEBUG", true, true, false},
		{"info", false, true, false},
		{"warn", false, false, false},
		{"error", false, false, false},
		{"verbose", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("LOG_LEVEL", tt.env)
			var buf bytes.Buffer
			l := FromEnv(&buf)
			ctx := context.Background()
			if got := l.Enabled(ctx, slog.LevelDebug); got != tt.wantDebug {
				t.Errorf("debug enabled = %v, want %v", got, tt.wantDebug)
			}
			if got := l.Enabled(ctx, slog.LevelInfo); got != tt.wantInfo {
				t.Errorf("info enabled = %v, want %v", got, tt.wantInfo)
			}
			if !l.Enabled(ctx, slog.LevelError) {
				t.Error("error disabled")
			}
			if got := strings.Contains(buf.String(), "unrecognised LOG_LEVEL"); got != tt.wantWarn {
				t.Errorf("warning logged = %v, want %v: %s", got, tt.wantWarn, buf.String())
			}
		})
	}
}

func TestContextLogger(t *testing.T) {
	var buf bytes.Buffer
	l := WithRequest(New(&buf, slog.LevelInfo), "req-42")
	ctx := Into(context.Background(), l)
	if From(ctx) != l {
		t.Fatal("From did not return the logger stored by Into")
	}
	From(ctx).Info("hello", "card", visa)
	out := buf.String()
	if !strings.Contains(out, `"request_id":"req-42"`) || strings.Contains(out, visa) {
		t.Errorf("unexpected output: %s", out)
	}

	if From(context.Background()) != slog.Default() {
		t.Error("From without a logger should return slog.Default()")
	}
	if From(Into(context.Background(), nil)) != slog.Default() {
		t.Error("From with a nil logger should return slog.Default()")
	}
}

func TestWithRequestNil(t *testing.T) {
	if WithRequest(nil, "req-1") == nil {
		t.Fatal("WithRequest(nil, ...) returned nil")
	}
}
