package authorizer

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/jwt"
)

const (
	issuer   = "https://issuer.test"
	audience = "vaultbill-test"
	kid      = "k1"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type recorder struct {
	recs []audit.Record
	err  error
}

func (r *recorder) Put(_ context.Context, rec audit.Record) error {
	if r.err != nil {
		return r.err
	}
	r.recs = append(r.recs, rec)
	return nil
}

func newAuthorizer(t testing.TB, key *rsa.PrivateKey, rec *recorder) *Authorizer {
	t.Helper()
	src := jwt.StaticKeySource(jwt.JWKS{Keys: []jwt.JWK{jwt.PublicJWK(kid, &key.PublicKey)}})
	v, err := jwt.NewVerifier(src, issuer, audience, jwt.WithTokenUse("id"), jwt.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	return &Authorizer{Verifier: v, Audit: rec, Account: "123456789012", Region: "eu-west-1",
		Log: slog.New(slog.DiscardHandler), Clock: func() time.Time { return now }}
}

func claims(mod func(map[string]any)) map[string]any {
	c := map[string]any{
		"sub": "user-1", "iss": issuer, "aud": audience, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"cognito:username": "ann", "cognito:groups": []string{"billing"}, "amr": []string{"pwd", "mfa"},
		"token_use": "id",
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func sign(t testing.TB, key *rsa.PrivateKey, c map[string]any) string {
	t.Helper()
	tok, err := jwt.Sign(key, kid, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds a token with an arbitrary header and signature, for the algorithm attacks.
func unsigned(header map[string]any, c map[string]any, sig func(signingInput string) []byte) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(c)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig(in))
}

func request(token string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	h := map[string]string{"User-Agent": "test"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type: "REQUEST", MethodArn: "arn:aws:execute-api:eu-west-1:123456789012:api1/prod/GET/v1/me",
		Resource: "/v1/me", Path: "/v1/me", HTTPMethod: "GET", Headers: h,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{RequestID: "req-1"},
	}
}

func TestRejections(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)

	tests := []struct {
		name     string
		token    string
		wantDeny string // "" means 401 Unauthorized; else the Deny code
	}{
		{"missing", "", ""},
		{"garbage", "not-a-jwt", ""},
		{"expired", sign(t, key, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), ""},
		{"not yet valid", sign(t, key, claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), ""},
		{"bad signature", sign(t, other, claims(nil)), ""},
		{"alg none", unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}, claims(nil), func(string) []byte { return nil }), ""},
		{"HS256 with the public key", unsigned(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, claims(nil), func(in string) []byte {
			m := hmac.New(sha256.New, pubDER)
			m.Write([]byte(in))
			return m.Sum(nil)
		}), ""},
		{"wrong issuer", sign(t, key, claims(func(c map[string]any) { c["iss"] = "https://evil.test" })), ""},
		{"wrong audience", sign(t, key, claims(func(c map[string]any) { c["aud"] = "other-app" })), ""},
		{"unknown role", sign(t, key, claims(func(c map[string]any) { c["cognito:groups"] = []string{"root"} })), "forbidden"},
		{"customer without customer id", sign(t, key, claims(func(c map[string]any) { c["cognito:groups"] = []string{"customer"} })), "forbidden"},
		{"no MFA", sign(t, key, claims(func(c map[string]any) { c["amr"] = []string{"pwd"} })), "mfa_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			resp, err := newAuthorizer(t, key, rec).Handle(context.Background(), request(tt.token))
			if tt.wantDeny == "" {
				if err == nil || err.Error() != "Unauthorized" {
					t.Fatalf("got %v, %+v; want the Unauthorized error API Gateway maps to 401", err, resp)
				}
			} else {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if resp.PolicyDocument.Statement[0].Effect != "Deny" || resp.Context["code"] != tt.wantDeny {
					t.Fatalf("got %+v; want Deny with code %s", resp, tt.wantDeny)
				}
			}
			if len(rec.recs) != 1 {
				t.Fatalf("%d audit records, want 1", len(rec.recs))
			}
			r := rec.recs[0]
			want := tt.wantDeny
			if want == "" {
				want = "unauthorized"
			}
			if r.ErrorCode != want || r.EventName != "GetMe" || r.RequestID != "req-1" {
				t.Errorf("audit record: %+v", r)
			}
			if tt.token != "" && strings.Contains(mustJSON(r), tt.token) {
				t.Error("audit record contains the token")
			}
		})
	}
}

func TestAcceptedTokenContext(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	rec := &recorder{}
	tok := sign(t, key, claims(func(c map[string]any) {
		c["cognito:groups"] = []string{"customer"}
		c["custom:customer_id"] = "cus_123"
	}))
	resp, err := newAuthorizer(t, key, rec).Handle(context.Background(), request(tok))
	if err != nil {
		t.Fatal(err)
	}
	want := events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: "user-1",
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{
			Action: []string{"execute-api:Invoke"}, Effect: "Allow",
			Resource: []string{"arn:aws:execute-api:eu-west-1:123456789012:api1/prod/*/*"},
		}}},
		Context: map[string]any{"principalId": "user-1", "username": "ann", "role": "customer", "customerId": "cus_123", "mfa": "true", "mfaProof": "amr"},
	}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	if len(rec.recs) != 0 {
		t.Error("an allowed request is audited by its handler, not the authorizer")
	}
}

// TestAuditFailureFailsClosed: a refusal that cannot be audited must not be answered as a plain 401.
func TestAuditFailureFailsClosed(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	rec := &recorder{err: errors.New("dynamodb down")}
	_, err := newAuthorizer(t, key, rec).Handle(context.Background(), request(""))
	if err == nil || err.Error() == "Unauthorized" {
		t.Fatalf("got %v; want a failure (API Gateway answers 500)", err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// BenchmarkAuthorize is the per-request cost after the first JWKS load: CPU only, no I/O.
func BenchmarkAuthorize(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	a := newAuthorizer(b, key, &recorder{})
	req := request(sign(b, key, claims(nil)))
	ctx := context.Background()
	if _, err := a.Handle(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Handle(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
