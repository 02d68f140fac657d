// Package authorizer wires the API's Lambda authorizer: the token verifier over the JWKS it is told of,
// the session epochs in the billing table and the audit outbox.
package authorizer

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/jwt"
	"github.com/vaultbill/vaultbill/shared/adapters/sessions"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/handlers/authorizer"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	a, err := New(env)
	return wiring.Handler{Func: a.Handle}, err
}

// New makes the authorizer from a function environment, once per cold start.
func New(env wiring.Env) (*authorizer.Authorizer, error) {
	c := env.Config
	if err := c.Require(config.EnvAuditTable, config.EnvBillingTable, config.EnvJWTIssuer, config.EnvJWTAudience); err != nil {
		return nil, err
	}
	var src jwt.KeySource
	switch {
	case c.JWKSURL != "":
		src = jwt.NewHTTPKeySource(c.JWKSURL, nil)
	case c.JWKSFile != "":
		src = jwt.FileKeySource(c.JWKSFile)
	default:
		return nil, fmt.Errorf("missing configuration: set %s (or %s locally)", config.EnvJWKSURL, config.EnvJWKSFile)
	}
	// ID tokens only: see the package comment.
	v, err := jwt.NewVerifier(src, c.JWTIssuer, c.JWTAudience, jwt.WithTokenUse("id"))
	if err != nil {
		return nil, fmt.Errorf("build token verifier: %w", err)
	}
	var verifier authorizer.Verifier = v
	if iss := c.Lookup(config.EnvPoolIssuer); iss != "" {
		// The local stack's second issuer: the emulator's user pool, beside the local signing key.
		if err := c.Require(config.EnvPoolJWKSURL, config.EnvUserPoolClientID); err != nil {
			return nil, err
		}
		poolKeys, err := jwt.NewLoopbackKeySource(c.Lookup(config.EnvPoolJWKSURL))
		if err != nil {
			return nil, err
		}
		pv, err := jwt.NewVerifier(poolKeys, iss, c.Lookup(config.EnvUserPoolClientID), jwt.WithTokenUse("id"))
		if err != nil {
			return nil, fmt.Errorf("build pool token verifier: %w", err)
		}
		verifier = jwt.Issuers{c.JWTIssuer: v, iss: pv}
	}
	db := dynamodb.NewFromConfig(env.AWS)
	return &authorizer.Authorizer{
		Verifier: verifier,
		Sessions: &sessions.Store{DB: db, Table: c.BillingTable},
		Audit:    wiring.Audit(env, db),
		MFAPools: mfaPools(c.Lookup(config.EnvMFAPoolIssuers)),
		Account:  c.Account, Region: c.Region, Log: env.Log,
	}, nil
}

// mfaPools splits the comma-separated MFA_POOL_ISSUERS, ignoring spaces and empty entries.
func mfaPools(list string) []string {
	var out []string
	for _, iss := range strings.Split(list, ",") {
		if iss = strings.TrimSpace(iss); iss != "" {
			out = append(out, iss)
		}
	}
	return out
}
