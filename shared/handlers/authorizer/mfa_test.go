package authorizer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/jwt"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
)

// withPools is the test authorizer with the MFA-required pools given (MFA_POOL_ISSUERS, parsed by the
// function's wiring: shared/wiring/authorizer).
func withPools(t *testing.T, key *rsa.PrivateKey, pools []string) (*Authorizer, *recorder) {
	t.Helper()
	rec := &recorder{}
	a := newAuthorizer(t, key, rec)
	a.MFAPools = pools
	a.Sessions = epochs{} // no user has been revoked
	return a, rec
}

// TestAccessTokenRefused: the API takes ID tokens only. A Cognito access token for the same app client
// (client_id instead of aud, no custom attributes) is signed by the same key and must still be 401.
func TestAccessTokenRefused(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	a, rec := withPools(t, key, nil)
	access := sign(t, key, claims(func(c map[string]any) {
		delete(c, "aud")
		delete(c, "cognito:username")
		c["client_id"], c["username"], c["token_use"] = audience, "ann", "access"
	}))
	for name, tok := range map[string]string{
		"access token":    access,
		"no token_use":    sign(t, key, claims(func(c map[string]any) { delete(c, "token_use") })),
		"other token_use": sign(t, key, claims(func(c map[string]any) { c["token_use"] = "refresh" })),
	} {
		rec.recs = nil
		resp, err := a.Handle(context.Background(), request(tok))
		if err == nil || err.Error() != "Unauthorized" {
			t.Errorf("%s: got %v, %+v; want 401", name, err, resp)
		}
		if len(rec.recs) != 1 || rec.recs[0].ErrorCode != "unauthorized" {
			t.Errorf("%s: audit %+v", name, rec.recs)
		}
	}
	if resp, err := a.Handle(context.Background(), request(sign(t, key, claims(nil)))); err != nil || resp.PolicyDocument.Statement[0].Effect != "Allow" {
		t.Fatalf("ID token: %v, %+v", err, resp)
	}
}

// fixedVerifier accepts every token with the given claims, to stand for a verifier that trusts
// several issuers.
type fixedVerifier jwt.Claims

func (f fixedVerifier) Verify(context.Context, string) (jwt.Claims, error) { return jwt.Claims(f), nil }

// TestMFAProof: DESIGN §4. amr naming mfa proves MFA for any issuer; a token without it proves MFA
// only when its issuer is configured as an MFA-required pool; any other issuer gets 403 mfa_required.
// The proof travels to the handlers and into the audit record.
func TestMFAProof(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	const pool = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_POOL"
	noAMR := func(c map[string]any) { delete(c, "amr") }
	pwdOnly := func(c map[string]any) { c["amr"] = []string{"pwd"} }

	tests := []struct {
		name      string
		pools     []string // MFA_POOL_ISSUERS
		mod       func(map[string]any)
		other     string // non-empty: the token comes from this issuer, through a multi-issuer verifier
		wantProof auth.MFAProof
	}{
		{"amr names mfa", nil, nil, "", auth.MFAByAMR},
		{"amr names mfa, issuer is also a pool", []string{issuer}, nil, "", auth.MFAByAMR},
		{"no amr, issuer is an MFA pool", []string{issuer}, noAMR, "", auth.MFAByPool},
		{"amr without mfa, issuer is an MFA pool", []string{pool, issuer}, pwdOnly, "", auth.MFAByPool},
		{"no amr, no pool configured", nil, noAMR, "", auth.MFANone},
		{"no amr, another issuer is the pool", []string{pool}, noAMR, "", auth.MFANone},
		{"amr without mfa, another issuer is the pool", []string{pool}, pwdOnly, "", auth.MFANone},
		{"no amr, token from another accepted issuer", []string{issuer}, noAMR, "https://other.test", auth.MFANone},
		{"no amr, token from the pool through a multi-issuer verifier", []string{pool}, noAMR, pool, auth.MFAByPool},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, rec := withPools(t, key, tt.pools)
			c := claims(tt.mod)
			if tt.other != "" {
				a.Verifier = fixedVerifier{Subject: "user-1", Issuer: tt.other, Username: "ann", Groups: []string{"billing"}, TokenUse: "id"}
			}
			resp, err := a.Handle(context.Background(), request(sign(t, key, c)))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if tt.wantProof == auth.MFANone {
				if resp.PolicyDocument.Statement[0].Effect != "Deny" || resp.Context["code"] != "mfa_required" {
					t.Fatalf("got %+v; want Deny mfa_required", resp)
				}
				if len(rec.recs) != 1 {
					t.Fatalf("%d audit records, want 1", len(rec.recs))
				}
				attrs := rec.recs[0].UserIdentity.SessionContext.Attributes
				if attrs.MFAAuthenticated != "false" || attrs.MFAProof != "none" {
					t.Errorf("audit session attributes %+v; want mfaAuthenticated false, mfaProof none", attrs)
				}
				return
			}
			if resp.PolicyDocument.Statement[0].Effect != "Allow" {
				t.Fatalf("got %+v; want Allow", resp)
			}
			// The handler audits allowed requests from the context the authorizer returned.
			p, err := auth.FromContext(resp.Context)
			if err != nil {
				t.Fatal(err)
			}
			attrs := endpoint.IdentityOf(p).SessionContext.Attributes
			if !p.MFA || p.MFAProof != tt.wantProof || attrs.MFAAuthenticated != "true" || attrs.MFAProof != string(tt.wantProof) {
				t.Errorf("principal %+v, audit attributes %+v; want MFA proven by %s", p, attrs, tt.wantProof)
			}
		})
	}
}
