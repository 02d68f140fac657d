package jwt

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWithdrawnKeyStopsVerifying: a key removed from the JWKS (a rotation after a compromise) must stop
// verifying tokens within the refresh interval, even though its kid is already cached.
func TestWithdrawnKeyStopsVerifying(t *testing.T) {
	k := testKeys()
	src := &countingSource{jwks: JWKS{Keys: []JWK{PublicJWK("k1", &k.a.PublicKey), PublicJWK("k2", &k.b.PublicKey)}}}
	now := testNow
	v := newTestVerifier(t, src, WithClock(func() time.Time { return now }))
	c := claims(set("exp", testNow.Unix()+86400))
	old, current := mustSign(t, k.a, "k1", c), mustSign(t, k.b, "k2", c)

	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("before withdrawal: %v", err)
	}
	src.set(JWKS{Keys: []JWK{PublicJWK("k2", &k.b.PublicKey)}}, nil) // k1 withdrawn

	now = now.Add(refreshInterval - time.Second)
	if _, err := v.Verify(context.Background(), old); err != nil || src.calls != 1 {
		t.Fatalf("within the interval the cached set is used without a fetch: err %v, %d fetches", err, src.calls)
	}
	now = now.Add(time.Second)
	if _, err := v.Verify(context.Background(), old); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("withdrawn key after the refresh interval: err = %v, want %v", err, ErrUnknownKey)
	}
	if src.calls != 2 {
		t.Fatalf("%d fetches, want 2", src.calls)
	}
	if _, err := v.Verify(context.Background(), current); err != nil || src.calls != 2 {
		t.Fatalf("remaining key: err %v, %d fetches", err, src.calls)
	}
}

// TestRefreshFailure: while the JWKS endpoint is down the last good set keeps serving (a blip must not
// lock everyone out), retried every retryInterval, but only up to maxKeyAge: then every token is refused.
func TestRefreshFailure(t *testing.T) {
	k := testKeys()
	src := &countingSource{jwks: JWKS{Keys: []JWK{PublicJWK("k1", &k.a.PublicKey)}}}
	now := testNow
	v := newTestVerifier(t, src, WithClock(func() time.Time { return now }))
	tok := mustSign(t, k.a, "k1", claims(set("exp", testNow.Unix()+86400)))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	down := errors.New("jwks endpoint down")
	src.set(JWKS{}, down)

	steps := []struct {
		at        time.Duration
		want      error
		wantCalls int
	}{
		{refreshInterval, nil, 2},                 // refresh fails, old set still used
		{refreshInterval + time.Second, nil, 2},   // not retried at once
		{refreshInterval + retryInterval, nil, 3}, // retried after retryInterval
		{maxKeyAge - time.Second, nil, 4},         // still within maxKeyAge
		{maxKeyAge, down, 4},                      // too old: refused, naming the cause
		{maxKeyAge + retryInterval, down, 5},      // still failing
	}
	for _, st := range steps {
		now = testNow.Add(st.at)
		_, err := v.Verify(context.Background(), tok)
		if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
			t.Fatalf("at %v: err = %v, want %v", st.at, err, st.want)
		}
		if src.calls != st.wantCalls {
			t.Fatalf("at %v: %d fetches, want %d", st.at, src.calls, st.wantCalls)
		}
	}
	src.set(JWKS{Keys: []JWK{PublicJWK("k1", &k.a.PublicKey)}}, nil)
	now = testNow.Add(maxKeyAge + 2*retryInterval)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after the endpoint recovers: %v", err)
	}
}

// TestTokenUse: Cognito signs ID and access tokens with the same key for the same app client; a
// verifier that requires one kind refuses the other, and a token that names neither.
func TestTokenUse(t *testing.T) {
	k := testKeys()
	v := newTestVerifier(t, StaticKeySource(testJWKS()), WithTokenUse("id"))
	access := claims(set("aud", nil, "client_id", testAud, "token_use", "access", "cognito:username", nil, "username", "alice"))
	for _, tc := range []struct {
		name string
		c    map[string]any
		want error
	}{
		{"id token", claims(nil), nil},
		{"access token", access, ErrTokenUse},
		{"no token_use", claims(set("token_use", nil)), ErrTokenUse},
		{"token_use differing in case", claims(set("token_use", "ID")), ErrTokenUse},
	} {
		got, err := v.Verify(context.Background(), mustSign(t, k.a, "k1", tc.c))
		if !errors.Is(err, tc.want) || tc.want == nil && err != nil {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if tc.want == nil && got.TokenUse != "id" {
			t.Errorf("%s: TokenUse = %q", tc.name, got.TokenUse)
		}
	}
}
