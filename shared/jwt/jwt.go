// Package jwt verifies and mints the RS256 bearer tokens Vaultbill accepts.
package jwt

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
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
)

const (
	maxTokenLen  = 8 << 10 // far above any Cognito token; bounds work done before the signature check
	maxHeaderLen = 1 << 10 // a real header is under 100 bytes
	maxMembers   = 64      // top-level members per JSON object; real tokens carry about 20
	// refreshInterval bounds key fetches caused by unknown kids, so tokens
	// with random kids cannot turn every request into a JWKS download.
	refreshInterval = time.Minute
	// retryInterval applies while no key set has ever loaded: a cold Lambda
	// whose first fetch failed should not deny everything for a full minute.
	retryInterval = 5 * time.Second
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
	TokenUse   string // "id" or "access"; Verify accepts both, so callers that care must check
	ID         string
}

// HasMFA reports whether the user authenticated with a second factor.
func (c Claims) HasMFA() bool { return slices.Contains(c.AMR, "mfa") }

type header struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ,omitempty"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit,omitempty"`
	// jku, x5u, jwk and x5c are deliberately not read: keys only ever come
	// from the configured KeySource, never from the token itself.
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

// Verifier checks RS256 tokens against one issuer and audience. It is safe
// for concurrent use; once keys are loaded, Verify does no I/O. Keys are only
// re-fetched for unknown kids, so a key withdrawn from the JWKS stays trusted
// until the process (Lambda container) is recycled.
type Verifier struct {
	src      KeySource
	issuer   string
	audience string
	leeway   time.Duration
	now      func() time.Time

	keys atomic.Pointer[keySet] // read lock-free on every request

	mu        sync.Mutex // serialises fetches; guards lastFetch and lastErr
	lastFetch time.Time
	lastErr   error
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithLeeway sets the tolerated clock skew for exp, nbf and iat (default 30s).
func WithLeeway(d time.Duration) Option { return func(v *Verifier) { v.leeway = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// NewVerifier returns a Verifier that trusts keys from src. Empty issuer or
// audience are refused because they would match tokens lacking the claim.
func NewVerifier(src KeySource, issuer, audience string, opts ...Option) (*Verifier, error) {
	v := &Verifier{src: src, issuer: issuer, audience: audience, leeway: 30 * time.Second, now: time.Now}
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
	return v, nil
}

// Verify checks token and returns its claims; ctx only bounds a key fetch.
// Any error means the token must be refused. The signature is checked
// before the payload is parsed, so unauthenticated input only ever reaches
// the (small, capped) header parser.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if len(token) == 0 || len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: length", ErrMalformed)
	}
	if !checkCharset(token) {
		return Claims{}, fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	hPart, rest, _ := strings.Cut(token, ".")
	pPart, sPart, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sPart, ".") {
		return Claims{}, fmt.Errorf("%w: want three parts", ErrMalformed)
	}
	if len(hPart) > maxHeaderLen {
		return Claims{}, fmt.Errorf("%w: header too large", ErrMalformed)
	}

	// A single buffer holds the raw token and its three decoded parts, so the
	// hot path allocates once here.
	buf := make([]byte, len(token)+b64.DecodedLen(len(token)))
	raw, out := buf[:len(token)], buf[len(token):]
	copy(raw, token)
	signed := raw[:len(hPart)+1+len(pPart)]
	hb, out, err := decodePart(out, raw[:len(hPart)])
	if err != nil {
		return Claims{}, err
	}
	var h header
	if err := decodeJSON(hb, &h); err != nil {
		return Claims{}, err
	}
	if h.Alg != "RS256" { // exact match: also refuses none, HS256 (key confusion) and case variants
		return Claims{}, fmt.Errorf("%w: alg must be RS256", ErrAlgorithm)
	}
	if len(h.Crit) > 0 { // RFC 7515 §4.1.11: unknown critical extensions must fail
		return Claims{}, fmt.Errorf("%w: crit header not supported", ErrMalformed)
	}
	pub, err := v.key(ctx, h.Kid)
	if err != nil {
		return Claims{}, err
	}
	pb, out, err := decodePart(out, raw[len(hPart)+1:len(signed)])
	if err != nil {
		return Claims{}, err
	}
	sig, _, err := decodePart(out, raw[len(signed)+1:])
	if err != nil {
		return Claims{}, err
	}
	digest := sha256.Sum256(signed)
	if len(sig) == 0 || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		return Claims{}, ErrSignature
	}
	var w wireClaims
	if err := decodeJSON(pb, &w); err != nil {
		return Claims{}, err
	}
	return v.check(w)
}

func (v *Verifier) check(w wireClaims) (Claims, error) {
	now, lw := v.now().Unix(), int64(v.leeway/time.Second)
	// Arithmetic is arranged so extreme claim values cannot overflow.
	switch {
	case w.Exp == 0 || now-lw >= w.Exp: // RFC 7519 §4.1.4: now must be before exp
		return Claims{}, ErrExpired
	case w.Nbf > now+lw || w.Iat > now+lw:
		return Claims{}, ErrNotYetValid
	case w.Iss != v.issuer:
		return Claims{}, ErrIssuer
	}
	aud := []string(w.Aud)
	if aud == nil && w.ClientID != "" {
		aud = []string{w.ClientID}
	}
	if !slices.Contains(aud, v.audience) {
		return Claims{}, ErrAudience
	}
	c := Claims{
		Subject: w.Sub, Issuer: w.Iss, Audience: aud,
		ExpiresAt: unixOrZero(w.Exp), NotBefore: unixOrZero(w.Nbf), IssuedAt: unixOrZero(w.Iat),
		Username: w.CognitoUsername, Groups: w.Groups, CustomerID: w.CustomerID,
		AMR: w.AMR, TokenUse: w.TokenUse, ID: w.JTI,
	}
	if c.Username == "" {
		c.Username = w.Username
	}
	return c, nil
}

// key returns the public key for kid, loading or refreshing the key set when
// kid is unknown, at most once per refreshInterval.
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if ks := v.keys.Load(); ks != nil {
		if e, ok := (*ks)[kid]; ok {
			return e.pub, e.err
		}
	}
	if kid == "" { // no fetch can ever produce it
		return nil, ErrUnknownKey
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	ks := v.keys.Load()
	if ks != nil { // another request may have refreshed while we waited
		if e, ok := (*ks)[kid]; ok {
			return e.pub, e.err
		}
	}
	wait := refreshInterval
	if ks == nil {
		wait = retryInterval
	}
	now := v.now()
	if !v.lastFetch.IsZero() && now.Sub(v.lastFetch) < wait {
		if ks == nil {
			return nil, v.lastErr
		}
		return nil, ErrUnknownKey
	}
	// Failed fetches count too: an unreachable JWKS endpoint must not be
	// retried on every request.
	v.lastFetch = now
	jwks, err := v.src.Keys(ctx)
	if err != nil {
		v.lastErr = fmt.Errorf("jwt: loading keys: %w", err)
		return nil, v.lastErr // keep serving the old set, if any
	}
	ks = newKeySet(jwks)
	v.keys.Store(ks)
	if e, ok := (*ks)[kid]; ok {
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

// decodePart decodes part into the front of buf and returns the rest of buf.
func decodePart(buf, part []byte) (out, rest []byte, err error) {
	n, err := b64.Decode(buf, part)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: bad base64url", ErrMalformed)
	}
	return buf[:n:n], buf[n:], nil
}

// decodeJSON is json.Unmarshal plus checkObject.
func decodeJSON(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: bad JSON", ErrMalformed)
	}
	if err := checkObject(b); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// checkObject rejects what encoding/json would quietly accept and another
// parser might read differently: a non-object, invalid UTF-8 (replaced with
// U+FFFD), duplicate members (last wins), members differing only in case
// (matched case-insensitively) and escaped member names ("\u0061lg" is
// "alg"). b must already be valid JSON.
func checkObject(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not an object")
	}
	var names [maxMembers][]byte
	n, depth, start := 0, 0, -1
	inStr, esc, wantName := false, false, false
	for i, c := range b {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\' && start >= 0:
				return errors.New("escaped member name")
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
				if start < 0 {
					break
				}
				name := b[start:i]
				for _, seen := range names[:n] {
					if bytes.EqualFold(seen, name) {
						return errors.New("duplicate member")
					}
				}
				if n == maxMembers {
					return errors.New("too many members")
				}
				names[n], n, start = name, n+1, -1
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
			if depth == 1 && wantName {
				start, wantName = i+1, false
			}
		case '{', '[':
			depth++
			wantName = depth == 1
		case '}', ']':
			depth--
		case ',':
			wantName = depth == 1
		}
	}
	return nil
}
