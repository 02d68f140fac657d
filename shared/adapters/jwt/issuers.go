package jwt

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Issuers verifies tokens of several issuers, each with its own Verifier (keys, audience, policy):
// the unverified iss claim only selects the Verifier, which then checks the signature and the issuer
// again, so a token naming one issuer can never be verified with another issuer's keys.
type Issuers map[string]*Verifier

// Verify checks token with the Verifier of the issuer it names.
func (is Issuers) Verify(ctx context.Context, token string) (Claims, error) {
	if err := checkShape(token); err != nil {
		return Claims{}, err
	}
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := b64.DecodeString(payload)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: bad base64url", ErrMalformed)
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Claims{}, fmt.Errorf("%w: claims", ErrMalformed)
	}
	v, ok := is[c.Iss]
	if !ok {
		return Claims{}, ErrIssuer
	}
	return v.Verify(ctx, token)
}

// NewLoopbackKeySource fetches a key set over plain http from a loopback address only: the user
// pool of a local emulator serves its JWKS so. Any other host is refused, so this cannot weaken
// what a deployed function trusts.
func NewLoopbackKeySource(rawURL string) (KeySource, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("jwt: %q is not an http URL", rawURL)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("jwt: plain-http key set %q is not on a loopback address", rawURL)
	}
	return loopbackSource{url: rawURL, client: &http.Client{Timeout: fetchTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

type loopbackSource struct {
	url    string
	client *http.Client
}

func (s loopbackSource) Keys(ctx context.Context) (JWKS, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return JWKS{}, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return JWKS{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return JWKS{}, fmt.Errorf("jwt: key set fetch: HTTP %d", resp.StatusCode)
	}
	return decodeJWKS(resp.Body)
}
