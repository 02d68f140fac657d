package authorizer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	awscfg "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/vaultbill/vaultbill/shared/adapters/awsconfig/workstation"
	"github.com/vaultbill/vaultbill/shared/adapters/jwt"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
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
	_, err := New(env(t, map[string]string{config.EnvAuditTable: "a", config.EnvBillingTable: "b", config.EnvJWTIssuer: "i", config.EnvJWTAudience: "a"}))
	if err == nil || !strings.Contains(err.Error(), config.EnvJWKSURL) {
		t.Fatalf("got %v; want an error naming %s", err, config.EnvJWKSURL)
	}
	_, err = New(env(t, map[string]string{}))
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
		if _, err := New(env(b, vars)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuiltAsConfigured: the authorizer is built with what its environment says: MFA_POOL_ISSUERS
// split into issuers (spaces and empty entries ignored), and a verifier over the JWKS that takes ID
// tokens only, so a Cognito access token for the same client and key is refused.
func TestBuiltAsConfigured(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := jwt.WriteJWKS(jwks, jwt.JWKS{Keys: []jwt.JWK{jwt.PublicJWK("k1", &key.PublicKey)}}); err != nil {
		t.Fatal(err)
	}
	const pool = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_POOL"
	vars := config.Local(resources.LocalNames, "https://issuer.test", jwks)
	vars[config.EnvMFAPoolIssuers] = " " + pool + " , https://issuer.test ,"
	a, err := New(env(t, vars))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{pool, "https://issuer.test"}; !slices.Equal(a.MFAPools, want) {
		t.Errorf("MFA pools %q, want %q", a.MFAPools, want)
	}
	now := time.Now()
	claims := map[string]any{
		"sub": "user-1", "iss": "https://issuer.test", "aud": vars[config.EnvJWTAudience],
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "token_use": "id",
	}
	id, err := jwt.Sign(key, "k1", claims)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verifier.Verify(context.Background(), id); err != nil {
		t.Fatalf("ID token refused: %v", err)
	}
	delete(claims, "aud")
	claims["client_id"], claims["token_use"] = vars[config.EnvJWTAudience], "access"
	access, err := jwt.Sign(key, "k1", claims)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verifier.Verify(context.Background(), access); err == nil {
		t.Error("an access token for the same client was accepted")
	}
}
