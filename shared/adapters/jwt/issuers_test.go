package jwt

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"
)

// TestIssuersPickTheVerifierByIssuer: each issuer's tokens verify only with that issuer's keys; a
// token naming one issuer but signed with the other's key, or naming an unknown issuer, is refused.
func TestIssuersPickTheVerifierByIssuer(t *testing.T) {
	keyA, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyB, _ := rsa.GenerateKey(rand.Reader, 2048)
	mk := func(iss string, key *rsa.PrivateKey) *Verifier {
		v, err := NewVerifier(StaticKeySource(JWKS{Keys: []JWK{PublicJWK("k-"+iss, &key.PublicKey)}}), iss, "aud-"+iss, WithTokenUse("id"))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	is := Issuers{"https://a.test": mk("https://a.test", keyA), "https://b.test": mk("https://b.test", keyB)}
	tok := func(iss string, key *rsa.PrivateKey, kid string) string {
		now := time.Now()
		s, err := Sign(key, kid, map[string]any{"sub": "u", "iss": iss, "aud": "aud-" + iss, "token_use": "id",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	for _, iss := range []string{"https://a.test", "https://b.test"} {
		key := map[string]*rsa.PrivateKey{"https://a.test": keyA, "https://b.test": keyB}[iss]
		if c, err := is.Verify(ctx, tok(iss, key, "k-"+iss)); err != nil || c.Issuer != iss {
			t.Errorf("%s token: %v", iss, err)
		}
	}
	if _, err := is.Verify(ctx, tok("https://a.test", keyB, "k-https://b.test")); err == nil {
		t.Error("a token naming issuer a, signed with b's key, was accepted")
	}
	if _, err := is.Verify(ctx, tok("https://c.test", keyA, "k-https://a.test")); !errors.Is(err, ErrIssuer) {
		t.Errorf("unknown issuer: %v; want ErrIssuer", err)
	}
	if _, err := NewLoopbackKeySource("http://cognito.example.com/p/.well-known/jwks.json"); err == nil {
		t.Error("plain http key set accepted from a non-loopback host")
	}
}
