package jwt

import (
	"context"
	"errors"
	"testing"
)

// FuzzVerify checks the authorizer's token handling with a fixed key set: the only tokens accepted
// are those the test key signed with valid claims, byte for byte. Any other input — a mutation of a
// good token (mutate: byte pos set to b), a token signed by another key, with another algorithm, or
// with claims that fail the policy — is refused with one of the package's sentinel errors.
func FuzzVerify(f *testing.F) {
	k := testKeys()
	good := []string{
		mustSign(f, k.a, "k1", claims(nil)),
		mustSign(f, k.a, "k1", claims(set("custom:customer_id", nil, "cognito:groups", []string{"admin"}))),
	}
	bad := []string{
		mustSign(f, k.b, "k1", claims(nil)),                             // another key under a trusted kid
		mustSign(f, k.a, "k1", claims(set("exp", testNow.Unix()-3600))), // expired
		mustSign(f, k.a, "k1", claims(set("aud", "other"))),
		mustSign(f, k.a, "k1", claims(set("iss", testIss+"x"))),
		mustSign(f, k.a, "k1", claims(set("token_use", "refresh"))),
		mustSign(f, k.a, "small", claims(nil)),
		mustSign(f, k.a, "enc", claims(nil)),
		mustSign(f, k.a, "nokey", claims(nil)),
	}
	for _, tok := range append(append([]string{}, good...), bad...) {
		f.Add(tok, false, uint16(0), byte(0))
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJIUzI1NiJ9.e30.x"} {
		f.Add(s, false, uint16(0), byte(0))
	}
	for _, pos := range []uint16{0, 10, 40, 200, 400, 600} {
		f.Add("", true, pos, byte('A'))
	}
	sentinels := []error{ErrMalformed, ErrSignature, ErrAlgorithm, ErrExpired, ErrNotYetValid, ErrIssuer, ErrAudience, ErrTokenUse, ErrUnknownKey}
	v := newTestVerifier(f, StaticKeySource(testJWKS()), WithTokenUse("id"))
	for _, tok := range good { // the property below must be able to fail
		if _, err := v.Verify(context.Background(), tok); err != nil {
			f.Fatalf("a good token is refused: %v", err)
		}
	}
	f.Fuzz(func(t *testing.T, token string, mutate bool, pos uint16, b byte) {
		if mutate { // one byte of a good token changed
			tb := []byte(good[0])
			i := int(pos) % len(tb)
			if tb[i] == b {
				return
			}
			tb[i] = b
			token = string(tb)
		}
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("refusal %v is none of the sentinels", err)
		}
		if token != good[0] && token != good[1] {
			t.Fatalf("accepted a token the test key did not sign with valid claims: %q (claims %+v)", token, c)
		}
		if c.Subject != "user-1" {
			t.Fatalf("accepted token has claims %+v", c)
		}
	})
}
