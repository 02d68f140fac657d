// Package wiring builds each function's handler from its configuration and SDK clients. The Lambda
// mains and the local stack both use it, so a function runs the same code in both.
package wiring

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/audit"
	"github.com/vaultbill/vaultbill/shared/authorizer"
	"github.com/vaultbill/vaultbill/shared/awsconfig"
	"github.com/vaultbill/vaultbill/shared/config"
	"github.com/vaultbill/vaultbill/shared/endpoint"
	"github.com/vaultbill/vaultbill/shared/idempotency"
	"github.com/vaultbill/vaultbill/shared/jwt"
	"github.com/vaultbill/vaultbill/shared/me"
	"github.com/vaultbill/vaultbill/shared/routes"
)

// Env is what every function is built from.
type Env struct {
	Config config.Config
	AWS    aws.Config
	Log    *slog.Logger
	// Metrics receives CloudWatch Embedded Metric Format lines (stdout in Lambda); nil discards them.
	Metrics io.Writer
}

// Load reads the process environment and the AWS configuration, once per cold start.
func Load(ctx context.Context, log *slog.Logger) (Env, error) {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return Env{}, err
	}
	c := config.FromEnv()
	if c.Region == "" {
		c.Region = cfg.Region
	}
	return Env{Config: c, AWS: cfg, Log: log}, nil
}

// Authorizer builds the authorizer.
func Authorizer(env Env) (*authorizer.Authorizer, error) {
	c := env.Config
	if err := c.Require(config.EnvAuditTable, config.EnvJWTIssuer, config.EnvJWTAudience); err != nil {
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
	v, err := jwt.NewVerifier(src, c.JWTIssuer, c.JWTAudience)
	if err != nil {
		return nil, fmt.Errorf("build token verifier: %w", err)
	}
	return &authorizer.Authorizer{
		Verifier: v,
		Audit:    &audit.Store{DB: dynamodb.NewFromConfig(env.AWS), Table: c.AuditTable},
		Account:  c.Account, Region: c.Region, Log: env.Log,
	}, nil
}

// apiFunctions registers each HTTP function's routes on its service.
var apiFunctions = map[string]func(env Env, svc *endpoint.Service) error{
	routes.Me:         func(_ Env, svc *endpoint.Service) error { me.Register(svc); return nil },
	routes.AuditQuery: auditQuery,
}

// API builds the HTTP function named fn (a routes.Function).
func API(env Env, fn string) (*endpoint.Service, error) {
	register, ok := apiFunctions[fn]
	if !ok {
		return nil, fmt.Errorf("no function %q is wired", fn)
	}
	c := env.Config
	if err := c.Require(config.EnvAuditTable, config.EnvBillingTable); err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	svc := &endpoint.Service{
		Source:      fn + ".vaultbill",
		DB:          db,
		Audit:       &audit.Store{DB: db, Table: c.AuditTable},
		Idempotency: &idempotency.Store{DB: db, Table: c.BillingTable},
		Account:     c.Account, Region: c.Region, Log: env.Log,
	}
	if err := register(env, svc); err != nil {
		return nil, fmt.Errorf("wire %s: %w", fn, err)
	}
	return svc, nil
}

// Wired reports whether fn is built by API.
func Wired(fn string) bool { _, ok := apiFunctions[fn]; return ok }
