// Package jwt verifies and mints the RS256 bearer tokens Vaultbill accepts. Parsing and signature
// checks are github.com/golang-jwt/jwt/v5's, key sets are github.com/MicahParks/jwkset's; this
// package adds Vaultbill's policy: RS256 only, key size limits, size caps, strict JSON, issuer,
// the Cognito audience rule, token_use, and a key set that is re-read so withdrawn keys drop out.
package jwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
)

// Sentinel errors; match them with errors.Is. Messages never quote the token,
// so callers may log them as they are.
var (
	ErrMalformed   = errors.New("jwt: malformed token")
	ErrAlgorithm   = errors.New("jwt: algorithm or key not acceptable")
	ErrUnknownKey  = errors.New("jwt: unknown signing key")
	ErrSignature   = errors.New("jwt: invalid signature")
	ErrExpired     = errors.New("jwt: token expired or has no expiry")
	ErrNotYetValid = errors.New("jwt: token not yet valid")
	ErrIssuer      = errors.New("jwt: wrong issuer")
	ErrAudience    = errors.New("jwt: wrong audience")
	ErrTokenUse    = errors.New("jwt: wrong token_use")
)

const (
	maxTokenLen  = 8 << 10 // far above any Cognito token; bounds work done before the signature check
	maxHeaderLen = 1 << 10 // a real header is under 100 bytes
	// refreshInterval is how long a loaded key set is trusted before it is read again, so a key
	// withdrawn from the JWKS stops verifying within this interval. It also bounds fetches caused
	// by unknown kids, so tokens with random kids cannot turn every request into a download.
	refreshInterval = time.Minute
	// retryInterval applies after a failed fetch: a cold Lambda whose first fetch failed should not
	// deny everything for a full minute, and a down endpoint is not hammered on every request.
	retryInterval = 5 * time.Second
	// maxKeyAge bounds how long a key set whose refreshes keep failing is still used; after that
	// every token is refused rather than trusting keys that may have been withdrawn long ago.
	maxKeyAge = 10 * time.Minute
)

// b64 is strict so that every signature has exactly one encoding; the
// remaining malleability (ignored CR/LF) is closed by checkCharset.
var b64 = base64.RawURLEncoding.Strict()

// Claims are the verified token claims Vaultbill uses. A zero time means the
// claim was absent; only exp is mandatory.
type Claims struct {
	Subject  string
	Issuer   string
	Audience []string // aud as string or array; Cognito access tokens' client_id when aud is absent
	// ExpiresAt, NotBefore and IssuedAt come from whole-second NumericDates;
	// Cognito never emits fractions, so a fractional date is ErrMalformed
	// rather than silently rounded.
	ExpiresAt  time.Time
	NotBefore  time.Time
	IssuedAt   time.Time
	Username   string // cognito:username (ID tokens), else username (access tokens)
	Groups     []string
	CustomerID string
	AMR        []string
	TokenUse   string // "id" or "access"; checked only when the Verifier was built WithTokenUse
	ID         string
}

// HasMFA reports whether the token's amr claim says the user authenticated with a second factor.
func (c Claims) HasMFA() bool { return slices.Contains(c.AMR, "mfa") }

// header is read before the library sees the token, to apply the algorithm policy with a precise
// error. jku, x5u, jwk and x5c are deliberately not read: keys only ever come from the configured
// KeySource, never from the token itself.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit,omitempty"`
}

type wireClaims struct {
	Sub             string   `json:"sub"`
	Iss             string   `json:"iss"`
	Aud             audience `json:"aud"`
	ClientID        string   `json:"client_id"`
	Exp             int64    `json:"exp"`
	Nbf             int64    `json:"nbf"`
	Iat             int64    `json:"iat"`
	CognitoUsername string   `json:"cognito:username"`
	Username        string   `json:"username"`
	Groups          []string `json:"cognito:groups"`
	CustomerID      string   `json:"custom:customer_id"`
	AMR             []string `json:"amr"`
	TokenUse        string   `json:"token_use"`
	JTI             string   `json:"jti"`
}

// audience accepts both forms RFC 7519 allows for aud.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// policy is what a token must say besides being validly signed and in date.
type policy struct {
	issuer, audience, tokenUse string
}

// tokenClaims adapts wireClaims to the library: it decodes strictly and applies policy in
// Validate, which the library calls after its own exp, nbf and iat checks.
type tokenClaims struct {
	w       wireClaims
	decoded bool // false when the payload was JSON null, which encoding/json never hands to us
	p       *policy
}

func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	if err := checkObject(b); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := json.Unmarshal(b, &c.w); err != nil {
		return fmt.Errorf("%w: claims", ErrMalformed)
	}
	c.decoded = true
	return nil
}

func numericDate(s int64) (*jwtlib.NumericDate, error) {
	if s == 0 {
		return nil, nil
	}
	return jwtlib.NewNumericDate(time.Unix(s, 0)), nil
}

func (c *tokenClaims) GetExpirationTime() (*jwtlib.NumericDate, error) { return numericDate(c.w.Exp) }
func (c *tokenClaims) GetNotBefore() (*jwtlib.NumericDate, error)      { return numericDate(c.w.Nbf) }
func (c *tokenClaims) GetIssuedAt() (*jwtlib.NumericDate, error)       { return numericDate(c.w.Iat) }
func (c *tokenClaims) GetIssuer() (string, error)                      { return c.w.Iss, nil }
func (c *tokenClaims) GetSubject() (string, error)                     { return c.w.Sub, nil }
func (c *tokenClaims) GetAudience() (jwtlib.ClaimStrings, error)       { return c.audience(), nil }

// audience is aud when present (even empty); Cognito access tokens carry no aud and name the app
// client in client_id instead.
func (c *tokenClaims) audience() []string {
	if c.w.Aud == nil && c.w.ClientID != "" {
		return []string{c.w.ClientID}
	}
	return c.w.Aud
}

// Validate applies Vaultbill's policy; the library joins its errors with its own.
func (c *tokenClaims) Validate() error {
	switch {
	case !c.decoded:
		return fmt.Errorf("%w: payload is not an object", ErrMalformed)
	case c.w.Iss != c.p.issuer:
		return ErrIssuer
	case !slices.Contains(c.audience(), c.p.audience):
		return ErrAudience
	case c.p.tokenUse != "" && c.w.TokenUse != c.p.tokenUse:
		return ErrTokenUse
	}
	return nil
}

func (c *tokenClaims) claims() Claims {
	out := Claims{
		Subject: c.w.Sub, Issuer: c.w.Iss, Audience: c.audience(),
		ExpiresAt: unixOrZero(c.w.Exp), NotBefore: unixOrZero(c.w.Nbf), IssuedAt: unixOrZero(c.w.Iat),
		Username: c.w.CognitoUsername, Groups: c.w.Groups, CustomerID: c.w.CustomerID,
		AMR: c.w.AMR, TokenUse: c.w.TokenUse, ID: c.w.JTI,
	}
	if out.Username == "" {
		out.Username = c.w.Username
	}
	return out
}

// Verifier checks RS256 tokens against one issuer and audience. It is safe
// for concurrent use. Once keys are loaded, Verify does no I/O until the key
// set is a refreshInterval old, when the next request re-reads it, so a key
// withdrawn from the JWKS stops being trusted within that interval. The
// refresh runs on the request path rather than on a timer because a Lambda
// container is frozen between requests and its timers with it.
type Verifier struct {
	src    KeySource
	policy policy
	leeway time.Duration
	now    func() time.Time
	parser *jwtlib.Parser

	keys atomic.Pointer[keySet] // read lock-free on every request

	mu          sync.Mutex // serialises fetches; guards lastAttempt and lastErr
	lastAttempt time.Time
	lastErr     error
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithLeeway sets the tolerated clock skew for exp, nbf and iat (default 30s).
func WithLeeway(d time.Duration) Option { return func(v *Verifier) { v.leeway = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithTokenUse requires the token_use claim to be use ("id" or "access"): Cognito signs both kinds
// with the same keys for the same client, and they carry different claims.
func WithTokenUse(use string) Option { return func(v *Verifier) { v.policy.tokenUse = use } }

// NewVerifier returns a Verifier that trusts keys from src. Empty issuer or
// audience are refused because they would match tokens lacking the claim.
func NewVerifier(src KeySource, issuer, audience string, opts ...Option) (*Verifier, error) {
	v := &Verifier{src: src, policy: policy{issuer: issuer, audience: audience}, leeway: 30 * time.Second, now: time.Now}
	for _, o := range opts {
		o(v)
	}
	switch {
	case src == nil || v.now == nil:
		return nil, errors.New("jwt: NewVerifier needs a key source and a clock")
	case issuer == "" || audience == "":
		return nil, errors.New("jwt: NewVerifier needs an issuer and an audience")
	case v.leeway < 0:
		return nil, errors.New("jwt: negative leeway")
	}
	v.parser = jwtlib.NewParser(
		jwtlib.WithValidMethods([]string{jwtlib.SigningMethodRS256.Alg()}),
		jwtlib.WithStrictDecoding(), // one encoding per signature: no ignored pad bits
		jwtlib.WithExpirationRequired(),
		jwtlib.WithIssuedAt(),
		jwtlib.WithLeeway(v.leeway),
		jwtlib.WithTimeFunc(func() time.Time { return v.now() }),
	)
	return v, nil
}

// Verify checks token and returns its claims; ctx only bounds a key fetch.
// Any error means the token must be refused. The library decodes the payload
// before it checks the signature; the 8 KiB cap and the strict-JSON check
// bound what unauthenticated input can cost.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if err := checkShape(token); err != nil {
		return Claims{}, err
	}
	c := tokenClaims{p: &v.policy}
	var keyErr error
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwtlib.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, err := v.key(ctx, kid)
		keyErr = err
		return pub, err
	})
	if err != nil {
		return Claims{}, classify(err, keyErr)
	}
	return c.claims(), nil
}

// classify maps the library's error to one sentinel. A token can fail several claim checks at
// once; the first in the order of this switch is reported.
func classify(err, keyErr error) error {
	switch {
	case keyErr != nil:
		return keyErr
	case errors.Is(err, ErrMalformed), errors.Is(err, jwtlib.ErrTokenMalformed):
		return ErrMalformed
	case errors.Is(err, jwtlib.ErrTokenSignatureInvalid):
		return ErrSignature
	case errors.Is(err, jwtlib.ErrTokenUnverifiable):
		return ErrAlgorithm
	case errors.Is(err, jwtlib.ErrTokenExpired), errors.Is(err, jwtlib.ErrTokenRequiredClaimMissing):
		return ErrExpired // exp is the only claim the parser requires
	case errors.Is(err, jwtlib.ErrTokenNotValidYet), errors.Is(err, jwtlib.ErrTokenUsedBeforeIssued):
		return ErrNotYetValid
	}
	for _, ours := range []error{ErrIssuer, ErrAudience, ErrTokenUse} {
		if errors.Is(err, ours) {
			return ours
		}
	}
	return ErrMalformed
}

// checkShape applies the size caps and reads the header before the library does, so that the
// algorithm policy gives a precise error and ambiguous JSON never reaches a map.
func checkShape(token string) error {
	if len(token) == 0 || len(token) > maxTokenLen {
		return fmt.Errorf("%w: length", ErrMalformed)
	}
	if !checkCharset(token) {
		return fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	hPart, rest, _ := strings.Cut(token, ".")
	_, sPart, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sPart, ".") {
		return fmt.Errorf("%w: want three parts", ErrMalformed)
	}
	if len(hPart) > maxHeaderLen {
		return fmt.Errorf("%w: header too large", ErrMalformed)
	}
	hb, err := b64.DecodeString(hPart)
	if err != nil {
		return fmt.Errorf("%w: bad base64url", ErrMalformed)
	}
	if err := checkObject(hb); err != nil {
		return fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return fmt.Errorf("%w: header", ErrMalformed)
	}
	if h.Alg != jwtlib.SigningMethodRS256.Alg() { // exact: also refuses none, HS256 (key confusion) and case variants
		return fmt.Errorf("%w: alg must be RS256", ErrAlgorithm)
	}
	if len(h.Crit) > 0 { // RFC 7515 §4.1.11: unknown critical extensions must fail
		return fmt.Errorf("%w: crit header not supported", ErrMalformed)
	}
	return nil
}

// key returns the public key for kid. It re-reads the key set when the set is a refreshInterval
// old or kid is unknown, at most once per refreshInterval (once per retryInterval after a failure).
func (v *Verifier) key(ctx context.Context, kid string) (any, error) {
	if kid == "" { // no fetch can ever produce it
		return nil, ErrUnknownKey
	}
	now := v.now()
	if ks := v.keys.Load(); ks != nil && now.Sub(ks.loaded) < refreshInterval {
		if e, ok := ks.keys[kid]; ok {
			return e.pub, e.err
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	ks := v.keys.Load() // another request may have refreshed while we waited
	if ks != nil && now.Sub(ks.loaded) < refreshInterval {
		if e, ok := ks.keys[kid]; ok {
			return e.pub, e.err
		}
	}
	wait := refreshInterval
	if ks == nil || v.lastErr != nil {
		wait = retryInterval
	}
	if v.lastAttempt.IsZero() || now.Sub(v.lastAttempt) >= wait {
		// Failed fetches count too: an unreachable JWKS endpoint must not be
		// retried on every request.
		v.lastAttempt = now
		jwks, err := v.src.Keys(ctx)
		if err == nil {
			ks, v.lastErr = newKeySet(jwks, now), nil
			v.keys.Store(ks)
		} else {
			v.lastErr = fmt.Errorf("jwt: loading keys: %w", err)
		}
	}
	if ks == nil || now.Sub(ks.loaded) >= maxKeyAge {
		if v.lastErr != nil {
			return nil, v.lastErr
		}
		return nil, ErrUnknownKey
	}
	if e, ok := ks.keys[kid]; ok {
		return e.pub, e.err
	}
	return nil, ErrUnknownKey
}

func unixOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// checkCharset admits only the base64url alphabet and dots, because the
// base64 decoder silently skips CR and LF.
func checkCharset(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
