package authorizer

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	awscfg "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/vaultbill/vaultbill/shared/adapters/awsconfig/workstation"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

func env(tb testing.TB, vars map[string]string) wiring.Env {
	tb.Helper()
	cfg, err := workstation.Load(context.Background(),
		awscfg.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		tb.Fatal(err)
	}
	return wiring.Env{Config: config.From(func(k string) string { return vars[k] }), AWS: cfg, Log: slog.New(slog.DiscardHandler)}
}

func TestBuildNamesMissingConfiguration(t *testing.T) {
	_, err := Build(env(t, map[string]string{config.EnvAuditTable: "a", config.EnvBillingTable: "b", config.EnvJWTIssuer: "i", config.EnvJWTAudience: "a"}))
	if err == nil || !strings.Contains(err.Error(), config.EnvJWKSURL) {
		t.Fatalf("got %v; want an error naming %s", err, config.EnvJWKSURL)
	}
	_, err = Build(env(t, map[string]string{}))
	if err == nil || !strings.Contains(err.Error(), config.EnvJWTIssuer) {
		t.Fatalf("got %v; want an error naming %s", err, config.EnvJWTIssuer)
	}
}

// BenchmarkColdStart is the authorizer's init work besides the runtime: configuration, SDK clients and
// the verifier (the JWKS itself is fetched lazily on the first request).
func BenchmarkColdStart(b *testing.B) {
	vars := config.Local(resources.LocalNames, "https://issuer.test", filepath.Join(b.TempDir(), "jwks.json"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(env(b, vars)); err != nil {
			b.Fatal(err)
		}
	}
}
