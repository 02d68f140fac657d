package jwt

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testIss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST"
	testAud = "client-123"
)

var testNow = time.Unix(1_750_000_000, 0)

// Key generation is slow, so all tests share these.
var testKeys = sync.OnceValue(func() (k struct{ a, b, small *rsa.PrivateKey }) {
	gen := func(bits int) *rsa.PrivateKey {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		return key
	}
	k.a, k.b, k.small = gen(2048), gen(2048), gen(1024)
	return k
})

func testJWKS() JWKS {
	k := testKeys()
	rs384 := PublicJWK("rs384", &k.a.PublicKey)
	rs384.ALG = "RS384"
	enc := PublicJWK("enc", &k.a.PublicKey)
	enc.USE = "enc"
	ec := PublicJWK("ec", &k.a.PublicKey)
	ec.KTY = "EC"
	return JWKS{Keys: []JWK{
		PublicJWK("k1", &k.a.PublicKey), rs384, enc, ec, PublicJWK("small", &k.small.PublicKey),
	}}
}

// claims returns a valid Cognito-style ID token payload, edited by mod.
func claims(mod func(map[string]any)) map[string]any {
	m := map[string]any{
		"sub": "user-1", "iss": testIss, "aud": testAud,
		"exp": testNow.Unix() + 3600, "iat": testNow.Unix() - 60,
		"cognito:username": "alice", "cognito:groups": []string{"admin", "billing"},
		"custom:customer_id": "cus_42", "amr": []string{"pwd", "mfa"},
		"token_use": "id", "jti": "jti-1",
	}
	if mod != nil {
		mod(m)
	}
	return m
}

func set(kv ...any) func(map[string]any) {
	return func(m map[string]any) {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
	}
}

// seg encodes a token segment; strings are taken as raw JSON.
func seg(v any) string {
	if s, ok := v.(string); ok {
		return b64.EncodeToString([]byte(s))
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64.EncodeToString(b)
}

func rs256(key *rsa.PrivateKey, h, p any) string {
	in := seg(h) + "." + seg(p)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		panic(err)
	}
	return in + "." + b64.EncodeToString(sig)
}

func hs256(secret []byte, h, p any) string {
	in := seg(h) + "." + seg(p)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(in))
	return in + "." + b64.EncodeToString(mac.Sum(nil))
}

func hdr(alg, kid string) map[string]string {
	return map[string]string{"alg": alg, "typ": "JWT", "kid": kid}
}

func mustSign(t testing.TB, key *rsa.PrivateKey, kid string, c map[string]any) string {
	t.Helper()
	tok, err := Sign(key, kid, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newTestVerifier(t testing.TB, src KeySource, opts ...Option) *Verifier {
	t.Helper()
	v, err := NewVerifier(src, testIss, testAud, append([]Option{WithClock(func() time.Time { return testNow })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// flipPadBit sets a trailing bit that non-strict base64 decoders ignore.
func flipPadBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

func TestVerify(t *testing.T) {
	k := testKeys()
	valid := mustSign(t, k.a, "k1", claims(nil))
	parts := strings.Split(valid, ".")
	pubDER, err := x509.MarshalPKIXPublicKey(&k.a.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1DER := x509.MarshalPKCS1PublicKey(&k.a.PublicKey)
	// A header whose encoding ends in a partial sextet, so it has pad bits.
	padHdr := `{"alg":"RS256","kid":"k1"}`
	for len(padHdr)%3 == 0 {
		padHdr += " "
	}
	padTok := rs256(k.a, padHdr, claims(nil))
	padParts := strings.Split(padTok, ".")

	wantClaims := Claims{
		Subject: "user-1", Issuer: testIss, Audience: []string{testAud},
		ExpiresAt: time.Unix(testNow.Unix()+3600, 0), IssuedAt: time.Unix(testNow.Unix()-60, 0),
		Username: "alice", Groups: []string{"admin", "billing"}, CustomerID: "cus_42",
		AMR: []string{"pwd", "mfa"}, TokenUse: "id", ID: "jti-1",
	}
	withAud := func(aud ...string) Claims { c := wantClaims; c.Audience = aud; return c }

	tests := []struct {
		name  string
		token string
		want  error
		claim *Claims // checked when want is nil
	}{
		{"valid", valid, nil, &wantClaims},
		{"aud array", mustSign(t, k.a, "k1", claims(set("aud", []string{"other", testAud}))), nil, ptr(withAud("other", testAud))},
		{"client_id fallback", mustSign(t, k.a, "k1", claims(set("aud", nil, "client_id", testAud, "token_use", "access", "cognito:username", nil, "username", "alice"))), nil,
			ptr(func() Claims { c := wantClaims; c.TokenUse = "access"; return c }())},
		{"within leeway", mustSign(t, k.a, "k1", claims(set("exp", testNow.Unix()-29, "nbf", testNow.Unix()+29, "iat", testNow.Unix()+29))), nil, nil},

		{"expired", mustSign(t, k.a, "k1", claims(set("exp", testNow.Unix()-3600))), ErrExpired, nil},
		{"expired beyond leeway", mustSign(t, k.a, "k1", claims(set("exp", testNow.Unix()-30))), ErrExpired, nil},
		{"no exp", mustSign(t, k.a, "k1", claims(set("exp", nil))), ErrExpired, nil},
		{"nbf in future", mustSign(t, k.a, "k1", claims(set("nbf", testNow.Unix()+3600))), ErrNotYetValid, nil},
		{"nbf beyond leeway", mustSign(t, k.a, "k1", claims(set("nbf", testNow.Unix()+31))), ErrNotYetValid, nil},
		{"iat in future", mustSign(t, k.a, "k1", claims(set("iat", testNow.Unix()+3600))), ErrNotYetValid, nil},

		{"tampered payload", parts[0] + "." + seg(claims(set("cognito:groups", []string{"admin", "superadmin"}))) + "." + parts[2], ErrSignature, nil},
		{"other key", mustSign(t, k.b, "k1", claims(nil)), ErrSignature, nil},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrSignature, nil},
		{"truncated signature", valid[:len(valid)-2], ErrSignature, nil},

		{"alg none", seg(hdr("none", "k1")) + "." + parts[1] + ".", ErrAlgorithm, nil},
		{"alg None", seg(hdr("None", "k1")) + "." + parts[1] + ".", ErrAlgorithm, nil},
		{"alg missing", seg(`{"kid":"k1"}`) + "." + parts[1] + "." + parts[2], ErrAlgorithm, nil},
		{"alg lowercase", rs256(k.a, hdr("rs256", "k1"), claims(nil)), ErrAlgorithm, nil},
		{"alg RS384", rs256(k.a, hdr("RS384", "k1"), claims(nil)), ErrAlgorithm, nil},
		{"HS256 with PEM public key", hs256(pubPEM, hdr("HS256", "k1"), claims(nil)), ErrAlgorithm, nil},
		{"HS256 with PKIX DER public key", hs256(pubDER, hdr("HS256", "k1"), claims(nil)), ErrAlgorithm, nil},
		{"HS256 with PKCS1 DER public key", hs256(pkcs1DER, hdr("HS256", "k1"), claims(nil)), ErrAlgorithm, nil},
		{"JWK alg RS384", rs256(k.a, hdr("RS256", "rs384"), claims(nil)), ErrAlgorithm, nil},
		{"JWK use enc", rs256(k.a, hdr("RS256", "enc"), claims(nil)), ErrAlgorithm, nil},
		{"JWK kty EC", rs256(k.a, hdr("RS256", "ec"), claims(nil)), ErrAlgorithm, nil},
		{"1024-bit key", rs256(k.small, hdr("RS256", "small"), claims(nil)), ErrAlgorithm, nil},

		{"unknown kid", mustSign(t, k.a, "nope", claims(nil)), ErrUnknownKey, nil},
		{"no kid", rs256(k.a, `{"alg":"RS256"}`, claims(nil)), ErrUnknownKey, nil},

		{"wrong issuer", mustSign(t, k.a, "k1", claims(set("iss", "https://evil.example"))), ErrIssuer, nil},
		{"no issuer", mustSign(t, k.a, "k1", claims(set("iss", nil))), ErrIssuer, nil},
		{"wrong audience", mustSign(t, k.a, "k1", claims(set("aud", "other"))), ErrAudience, nil},
		{"aud array without ours", mustSign(t, k.a, "k1", claims(set("aud", []string{"a", "b"}))), ErrAudience, nil},
		{"aud wins over client_id", mustSign(t, k.a, "k1", claims(set("aud", "other", "client_id", testAud))), ErrAudience, nil},
		{"empty aud array", mustSign(t, k.a, "k1", claims(set("aud", []string{}, "client_id", testAud))), ErrAudience, nil},
		{"wrong client_id", mustSign(t, k.a, "k1", claims(set("aud", nil, "client_id", "other"))), ErrAudience, nil},
		{"no audience", mustSign(t, k.a, "k1", claims(set("aud", nil))), ErrAudience, nil},

		{"empty", "", ErrMalformed, nil},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed, nil},
		{"four parts", valid + "." + parts[2], ErrMalformed, nil},
		{"bad base64 char", "!!!." + parts[1] + "." + parts[2], ErrMalformed, nil},
		{"base64 padding", parts[0] + "=." + parts[1] + "." + parts[2], ErrMalformed, nil},
		{"bad base64 length", "A." + parts[1] + "." + parts[2], ErrMalformed, nil},
		{"newline inside", parts[0] + "." + parts[1][:5] + "\n" + parts[1][5:] + "." + parts[2], ErrMalformed, nil},
		{"pad bits in header", flipPadBit(padParts[0]) + "." + padParts[1] + "." + padParts[2], ErrMalformed, nil},
		{"pad bits in signature", parts[0] + "." + parts[1] + "." + flipPadBit(parts[2]), ErrMalformed, nil},
		{"oversized", strings.Repeat("a", 8<<10-1) + ".b.c", ErrMalformed, nil},
		{"header too large", seg(`{"alg":"RS256","kid":"k1","x":"`+strings.Repeat("x", 1024)+`"}`) + "." + parts[1] + "." + parts[2], ErrMalformed, nil},
		{"header not JSON", seg("alg=RS256") + "." + parts[1] + "." + parts[2], ErrMalformed, nil},
		{"header is array", seg(`["RS256"]`) + "." + parts[1] + "." + parts[2], ErrMalformed, nil},
		{"header duplicate alg", rs256(k.a, `{"alg":"RS256","alg":"RS256","kid":"k1"}`, claims(nil)), ErrMalformed, nil},
		{"header alg differing in case", rs256(k.a, `{"alg":"RS256","ALG":"none","kid":"k1"}`, claims(nil)), ErrMalformed, nil},
		{"header escaped name", rs256(k.a, `{"\u0061lg":"RS256","kid":"k1"}`, claims(nil)), ErrMalformed, nil},
		{"header crit", rs256(k.a, `{"alg":"RS256","kid":"k1","crit":["exp"]}`, claims(nil)), ErrMalformed, nil},
		{"payload duplicate exp", rs256(k.a, hdr("RS256", "k1"), `{"iss":"`+testIss+`","aud":"`+testAud+`","exp":1,"exp":9999999999}`), ErrMalformed, nil},
		{"payload null", rs256(k.a, hdr("RS256", "k1"), `null`), ErrMalformed, nil},
		{"payload not JSON", rs256(k.a, hdr("RS256", "k1"), `exp=9999999999`), ErrMalformed, nil},
		{"payload invalid UTF-8", rs256(k.a, hdr("RS256", "k1"), "{\"sub\":\"\xff\",\"exp\":9999999999}"), ErrMalformed, nil},
		{"fractional exp", rs256(k.a, hdr("RS256", "k1"), fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d.5}`, testIss, testAud, testNow.Unix()+60)), ErrMalformed, nil},
		{"exp as string", mustSign(t, k.a, "k1", claims(set("exp", "9999999999"))), ErrMalformed, nil},
	}
	v := newTestVerifier(t, StaticKeySource(testJWKS()))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if tt.claim != nil {
					if diff := cmp.Diff(*tt.claim, got); diff != "" {
						t.Errorf("claims (-want +got):\n%s", diff)
					}
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if !cmp.Equal(got, Claims{}) {
				t.Errorf("rejected token still returned claims: %+v", got)
			}
			for _, p := range strings.Split(tt.token, ".") {
				if len(p) >= 8 && strings.Contains(err.Error(), p) {
					t.Errorf("error %q leaks token text", err)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestHasMFA(t *testing.T) {
	if !(Claims{AMR: []string{"pwd", "mfa"}}).HasMFA() || (Claims{AMR: []string{"pwd"}}).HasMFA() {
		t.Error("HasMFA wrong")
	}
}

type countingSource struct {
	mu    sync.Mutex
	calls int
	jwks  JWKS
	err   error
}

func (s *countingSource) Keys(context.Context) (JWKS, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.jwks, s.err
}

func (s *countingSource) set(jwks JWKS, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwks, s.err = jwks, err
}

func TestKeyRefresh(t *testing.T) {
	k := testKeys()
	src := &countingSource{jwks: JWKS{Keys: []JWK{PublicJWK("k1", &k.a.PublicKey)}}}
	now := testNow
	v := newTestVerifier(t, src, WithClock(func() time.Time { return now }))
	c := claims(set("exp", testNow.Unix()+86400))

	steps := []struct {
		name      string
		advance   time.Duration
		rotate    bool // publish k2 before this step
		kid       string
		want      error
		wantCalls int
	}{
		{"first use loads", 0, false, "k1", nil, 1},
		{"known kid is cached", 0, false, "k1", nil, 1},
		{"unknown kid refreshes once", 2 * time.Minute, true, "k2", nil, 2},
		{"second unknown kid within a minute", 0, false, "k3", ErrUnknownKey, 2},
		{"still within the minute", 59 * time.Second, false, "k4", ErrUnknownKey, 2},
		{"after a minute", 2 * time.Second, false, "k5", ErrUnknownKey, 3},
		{"known kids unaffected", 0, false, "k2", nil, 3},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		if st.rotate {
			src.set(JWKS{Keys: []JWK{PublicJWK("k1", &k.a.PublicKey), PublicJWK("k2", &k.b.PublicKey)}}, nil)
		}
		key := k.a
		if st.kid != "k1" {
			key = k.b
		}
		_, err := v.Verify(context.Background(), mustSign(t, key, st.kid, c))
		if !errors.Is(err, st.want) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.want)
		}
		if src.calls != st.wantCalls {
			t.Fatalf("%s: %d fetches, want %d", st.name, src.calls, st.wantCalls)
		}
	}
}

func TestKeySourceFailure(t *testing.T) {
	k := testKeys()
	fail := errors.New("jwks endpoint down")
	src := &countingSource{err: fail}
	now := testNow
	v := newTestVerifier(t, src, WithClock(func() time.Time { return now }))
	tok := mustSign(t, k.a, "k1", claims(nil))

	for i, want := range []int{1, 1} { // the failure is not retried immediately
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, fail) {
			t.Fatalf("call %d: err = %v, want %v", i, err, fail)
		}
		if src.calls != want {
			t.Fatalf("call %d: %d fetches, want %d", i, src.calls, want)
		}
	}
	src.set(JWKS{Keys: []JWK{PublicJWK("k1", &k.a.PublicKey)}}, nil)
	now = now.Add(6 * time.Second)
	if _, err := v.Verify(context.Background(), tok); err != nil || src.calls != 2 {
		t.Fatalf("after retry interval: err = %v, fetches = %d", err, src.calls)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	k := testKeys()
	src := &countingSource{jwks: JWKS{Keys: []JWK{PublicJWK("k1", &k.a.PublicKey)}}}
	v := newTestVerifier(t, src)
	tok := mustSign(t, k.a, "k1", claims(nil))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if src.calls != 1 {
		t.Errorf("%d fetches, want 1", src.calls)
	}
}

func TestNewVerifierRejectsMisconfiguration(t *testing.T) {
	src := StaticKeySource(JWKS{})
	for _, tc := range []struct {
		src         KeySource
		issuer, aud string
		opts        []Option
		name        string
	}{
		{nil, testIss, testAud, nil, "nil source"},
		{src, "", testAud, nil, "empty issuer"},
		{src, testIss, "", nil, "empty audience"},
		{src, testIss, testAud, []Option{WithLeeway(-time.Second)}, "negative leeway"},
	} {
		if _, err := NewVerifier(tc.src, tc.issuer, tc.aud, tc.opts...); err == nil {
			t.Errorf("%s: NewVerifier succeeded", tc.name)
		}
	}
}

func TestHTTPKeySource(t *testing.T) {
	k := testKeys()
	jwks, err := json.Marshal(JWKS{Keys: []JWK{PublicJWK("k1", &k.a.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks.json", func(w http.ResponseWriter, r *http.Request) { w.Write(jwks) })
	plain := httptest.NewServer(mux)
	defer plain.Close()
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`))
	})
	mux.HandleFunc("/downgrade", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/jwks.json", http.StatusFound)
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	v := newTestVerifier(t, NewHTTPKeySource(srv.URL+"/jwks.json", srv.Client()))
	if _, err := v.Verify(context.Background(), mustSign(t, k.a, "k1", claims(nil))); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, url := range []string{
		srv.URL + "/huge", srv.URL + "/missing", srv.URL + "/downgrade",
		"http://example.com/jwks.json", plain.URL + "/jwks.json", // plain http, even to loopback
	} {
		if _, err := NewHTTPKeySource(url, srv.Client()).Keys(context.Background()); err == nil {
			t.Errorf("%s: Keys succeeded", url)
		}
	}
}

func TestLocalKeyRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	key, kid, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "jwt-signing-key.pem"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(der)
	if want := b64.EncodeToString(sum[:16]); kid != want {
		t.Errorf("kid = %q, want %q", kid, want)
	}
	key2, kid2, err := LoadOrCreateKey(dir)
	if err != nil || kid2 != kid || !key2.Equal(key) {
		t.Fatalf("reload: kid %q vs %q, same key %v, err %v", kid2, kid, key2 != nil && key2.Equal(key), err)
	}

	jwksPath := filepath.Join(dir, "jwks.json")
	if err := WriteJWKS(jwksPath, JWKS{Keys: []JWK{PublicJWK(kid, &key.PublicKey)}}); err != nil {
		t.Fatal(err)
	}
	v := newTestVerifier(t, FileKeySource(jwksPath))
	got, err := v.Verify(context.Background(), mustSign(t, key, kid, claims(nil)))
	if err != nil || got.CustomerID != "cus_42" || !got.HasMFA() {
		t.Fatalf("Verify: %+v, %v", got, err)
	}

	if err := os.Chmod(filepath.Join(dir, "jwt-signing-key.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKey(dir); err == nil {
		t.Error("LoadOrCreateKey accepted a world-readable key")
	}
}

func TestSignRefusesWeakKey(t *testing.T) {
	if _, err := Sign(testKeys().small, "small", claims(nil)); err == nil {
		t.Error("Sign accepted a 1024-bit key")
	}
}

func TestSignHeader(t *testing.T) {
	tok := mustSign(t, testKeys().a, "k1", claims(nil))
	raw, err := b64.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"}; !maps.Equal(h, want) {
		t.Errorf("header = %v, want %v", h, want)
	}
}

func BenchmarkVerify(b *testing.B) {
	k := testKeys()
	v := newTestVerifier(b, StaticKeySource(JWKS{Keys: []JWK{PublicJWK("k1", &k.a.PublicKey)}}))
	tok := mustSign(b, k.a, "k1", claims(nil))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil { // warm the key cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
