package jwt

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"time"

	"github.com/MicahParks/jwkset"
)

const (
	minKeyBits   = 2048
	maxKeyBits   = 8192 // bounds the CPU an oversized published key can cost per verification
	maxJWKSBytes = 1 << 20
	fetchTimeout = 5 * time.Second
)

// JWKS is a JSON Web Key Set (RFC 7517), as served by Cognito.
type JWKS = jwkset.JWKSMarshal

// JWK is one key of a JWKS. N and E are unpadded base64url big-endian.
type JWK = jwkset.JWKMarshal

// PublicJWK describes pub for publication, pinned to RS256 signing so the
// key cannot be accepted for anything else.
func PublicJWK(kid string, pub *rsa.PublicKey) JWK {
	return JWK{
		KTY: jwkset.KtyRSA, KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig,
		N: b64.EncodeToString(pub.N.Bytes()),
		E: b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// KeySource supplies the trusted key set. It is called on first use, when
// the loaded set is a refresh interval old, and when a token names an unknown
// kid (at most once per interval).
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
// Only https is accepted, redirects included, because whoever can alter the
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
	if req.URL.Scheme != "https" {
		return JWKS{}, errors.New("jwt: key set URL must be https")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return JWKS{}, err
	}
	defer resp.Body.Close()
	if resp.Request.URL.Scheme != "https" { // a redirect may have downgraded the scheme
		return JWKS{}, errors.New("jwt: key set redirected to insecure URL")
	}
	if resp.StatusCode != http.StatusOK {
		return JWKS{}, fmt.Errorf("jwt: key set fetch: HTTP %d", resp.StatusCode)
	}
	return decodeJWKS(resp.Body)
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
// a token naming it gets a precise error instead of a pointless refresh. One
// bad key does not make the others unusable.
type keySet struct {
	keys   map[string]keyEntry
	loaded time.Time
}

type keyEntry struct {
	pub *rsa.PublicKey
	err error
}

func newKeySet(s JWKS, loaded time.Time) *keySet {
	ks := &keySet{keys: make(map[string]keyEntry, len(s.Keys)), loaded: loaded}
	for _, k := range s.Keys {
		if _, dup := ks.keys[k.KID]; dup {
			// Two keys under one kid is ambiguous; trust neither.
			ks.keys[k.KID] = keyEntry{err: fmt.Errorf("%w: kid listed twice", ErrUnknownKey)}
			continue
		}
		pub, err := parseJWK(k)
		ks.keys[k.KID] = keyEntry{pub: pub, err: err}
	}
	delete(ks.keys, "") // tokens must name their key
	return ks
}

// parseJWK accepts only RSA signing keys for RS256 within the size limits;
// jwkset decodes and validates the key material.
func parseJWK(k JWK) (*rsa.PublicKey, error) {
	if k.KTY != jwkset.KtyRSA || (k.ALG != "" && k.ALG != jwkset.AlgRS256) || (k.USE != "" && k.USE != jwkset.UseSig) {
		return nil, fmt.Errorf("%w: key is not an RS256 signing key", ErrAlgorithm)
	}
	// Only the public parameters are read; x5u is never fetched.
	k = JWK{KTY: k.KTY, KID: k.KID, N: k.N, E: k.E}
	j, err := jwkset.NewJWKFromMarshal(k, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: key has bad n or e", ErrAlgorithm)
	}
	pub, ok := j.Key().(*rsa.PublicKey)
	if !ok || len(k.E) > 6 { // 6 base64url characters hold the largest 32-bit exponent
		return nil, fmt.Errorf("%w: key has bad n or e", ErrAlgorithm)
	}
	if bits := pub.N.BitLen(); bits < minKeyBits || bits > maxKeyBits {
		return nil, fmt.Errorf("%w: RSA key size %d bits", ErrAlgorithm, bits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return nil, fmt.Errorf("%w: RSA exponent", ErrAlgorithm)
	}
	return pub, nil
}
