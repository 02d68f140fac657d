package wiring

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/vaultbill/vaultbill/shared/adapters/awsconfig/workstation"
	vbconfig "github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

func testEnv(tb testing.TB, env map[string]string) Env {
	tb.Helper()
	cfg, err := workstation.Load(context.Background(),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		tb.Fatal(err)
	}
	return Env{Config: vbconfig.From(func(k string) string { return env[k] }), AWS: cfg, Log: slog.New(slog.DiscardHandler)}
}

func TestMissingConfigurationIsNamed(t *testing.T) {
	_, err := API(testEnv(t, map[string]string{}), routes.Me, noRoutes)
	if err == nil || !strings.Contains(err.Error(), vbconfig.EnvAuditTable) || !strings.Contains(err.Error(), vbconfig.EnvBillingTable) {
		t.Fatalf("got %v; want an error naming the missing variables", err)
	}
}

func noRoutes(Env, *endpoint.Service) error { return nil }

// BenchmarkColdStart measures what a function does at cold start besides the runtime itself: read the
// configuration, build the SDK clients, wire the handlers. It stays far below Lambda's init budget.
func BenchmarkColdStart(b *testing.B) {
	env := vbconfig.Local(resources.LocalNames, "https://issuer.test", filepath.Join(b.TempDir(), "jwks.json"))
	b.ReportAllocs()
	for b.Loop() {
		e := testEnv(b, env)
		if _, err := API(e, routes.Me, noRoutes); err != nil {
			b.Fatal(err)
		}
	}
}
