package jwt

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

const (
	minKeyBits   = 2048
	maxKeyBits   = 8192 // bounds the CPU an oversized published key can cost per verification
	maxJWKSBytes = 1 << 20
	fetchTimeout = 5 * time.Second
)

// JWKS is a JSON Web Key Set (RFC 7517), as served by Cognito.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is one RSA public key. N and E are unpadded base64url big-endian.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// PublicJWK describes pub for publication, pinned to RS256 signing so the
// key cannot be accepted for anything else.
func PublicJWK(kid string, pub *rsa.PublicKey) JWK {
	return JWK{
		Kty: "RSA", Kid: kid, Alg: "RS256", Use: "sig",
		N: b64.EncodeToString(pub.N.Bytes()),
		E: b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// KeySource supplies the trusted key set. It is called on first use and
// then only when a token names an unknown kid.
type KeySource interface {
	Keys(ctx context.Context) (JWKS, error)
}

// StaticKeySource serves a fixed key set, for tests and embedded keys.
func StaticKeySource(s JWKS) KeySource { return staticSource{s} }

type staticSource struct{ s JWKS }

func (s staticSource) Keys(context.Context) (JWKS, error) { return s.s, nil }

// FileKeySource reads a JWKS JSON file on every load, so the local stack
// picks up a rotated key without restarting.
type FileKeySource string

// Keys reads and parses the file.
func (p FileKeySource) Keys(context.Context) (JWKS, error) {
	f, err := os.Open(string(p))
	if err != nil {
		return JWKS{}, err
	}
	defer f.Close()
	return decodeJWKS(f)
}

type httpKeySource struct {
	url    string
	client *http.Client
}

// NewHTTPKeySource fetches the key set from url, such as Cognito's
// https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json.
// A nil client means a default one. Each fetch is limited to 5 s and 1 MiB.
// Plain http is refused except to loopback, because whoever can alter the
// response can mint tokens.
func NewHTTPKeySource(url string, client *http.Client) KeySource {
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	return &httpKeySource{url: url, client: client}
}

func (s *httpKeySource) Keys(ctx context.Context) (JWKS, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return JWKS{}, err
	}
	if !secureURL(req.URL) {
		return JWKS{}, errors.New("jwt: key set URL must be https")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return JWKS{}, err
	}
	defer resp.Body.Close()
	if !secureURL(resp.Request.URL) { // a redirect may have downgraded the scheme
		return JWKS{}, errors.New("jwt: key set redirected to insecure URL")
	}
	if resp.StatusCode != http.StatusOK {
		return JWKS{}, fmt.Errorf("jwt: key set fetch: HTTP %d", resp.StatusCode)
	}
	return decodeJWKS(resp.Body)
}

func secureURL(u *url.URL) bool {
	if u.Scheme == "https" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return u.Scheme == "http" && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback())
}

func decodeJWKS(r io.Reader) (JWKS, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxJWKSBytes+1))
	if err != nil {
		return JWKS{}, err
	}
	if len(b) > maxJWKSBytes {
		return JWKS{}, errors.New("jwt: key set larger than 1 MiB")
	}
	var s JWKS
	if err := json.Unmarshal(b, &s); err != nil {
		return JWKS{}, fmt.Errorf("jwt: key set: %w", err)
	}
	return s, nil
}

// keySet maps kid to a parsed key, or to the reason the key is unusable so
// a token naming it gets a precise error instead of a pointless refresh.
type keySet map[string]keyEntry

type keyEntry struct {
	pub *rsa.PublicKey
	err error
}

func newKeySet(s JWKS) *keySet {
	ks := make(keySet, len(s.Keys))
	for _, k := range s.Keys {
		if _, dup := ks[k.Kid]; dup {
			// Two keys under one kid is ambiguous; trust neither.
			ks[k.Kid] = keyEntry{err: fmt.Errorf("%w: kid listed twice", ErrUnknownKey)}
			continue
		}
		pub, err := parseJWK(k)
		ks[k.Kid] = keyEntry{pub: pub, err: err}
	}
	delete(ks, "") // tokens must name their key
	return &ks
}

func parseJWK(k JWK) (*rsa.PublicKey, error) {
	if k.Kty != "RSA" || (k.Alg != "" && k.Alg != "RS256") || (k.Use != "" && k.Use != "sig") {
		return nil, fmt.Errorf("%w: key is not an RS256 signing key", ErrAlgorithm)
	}
	n, err1 := b64.DecodeString(k.N)
	e, err2 := b64.DecodeString(k.E)
	if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("%w: key has bad n or e", ErrAlgorithm)
	}
	var exp int64
	for _, b := range e {
		exp = exp<<8 | int64(b)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}
	if bits := pub.N.BitLen(); bits < minKeyBits || bits > maxKeyBits {
		return nil, fmt.Errorf("%w: RSA key size %d bits", ErrAlgorithm, bits)
	}
	if exp < 3 || exp%2 == 0 || exp > 1<<31-1 {
		return nil, fmt.Errorf("%w: RSA exponent", ErrAlgorithm)
	}
	return pub, nil
}
