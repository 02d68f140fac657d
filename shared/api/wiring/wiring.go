// Package wiring builds each function's handler from its configuration and SDK clients. The Lambda
// mains and the local stack both use it, so a function runs the same code in both.
package wiring

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/awsconfig"
	"github.com/vaultbill/vaultbill/shared/adapters/idempotency"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/logging"
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
	return NewEnv(cfg, log), nil
}

// NewEnv makes the environment of a function from an AWS configuration and the process environment.
// The CLI uses it with the SDK's full credential chain (profiles, SSO), which functions never link.
func NewEnv(cfg aws.Config, log *slog.Logger) Env {
	c := config.FromEnv()
	if c.Region == "" {
		c.Region = cfg.Region
	}
	// CloudWatch reads Embedded Metric Format lines from a function's output.
	return Env{Config: c, AWS: cfg, Log: log, Metrics: os.Stdout}
}

// Register adds one HTTP function's routes to its service, building the clients they need from env.
// Each function's main passes its own, so a binary links only its own function's code.
type Register func(env Env, svc *endpoint.Service) error

// API builds the HTTP function named fn (a routes.Function) with its routes.
func API(env Env, fn string, register Register) (*endpoint.Service, error) {
	svc, err := Service(env, fn)
	if err != nil {
		return nil, err
	}
	if err := register(env, svc); err != nil {
		return nil, fmt.Errorf("wire %s: %w", fn, err)
	}
	return svc, nil
}

// Run is a function's main: it sets up the redacting logger, reads the configuration and builds the
// handler once (cold start), then hands it to the Lambda runtime. A misconfigured function exits at
// cold start with a message naming what is missing, rather than failing its first request.
func Run(build func(env Env) (handler any, err error)) {
	RunWithOptions(func(env Env) (any, []lambda.Option, error) {
		h, err := build(env)
		return h, nil, err
	})
}

// RunWithOptions is Run for a function that also sets runtime options, such as a SIGTERM hook.
func RunWithOptions(build func(env Env) (handler any, opts []lambda.Option, err error)) {
	log := logging.FromEnv(os.Stdout)
	slog.SetDefault(log)
	env, err := Load(context.Background(), log)
	if err == nil {
		var handler any
		var opts []lambda.Option
		if handler, opts, err = build(env); err == nil {
			lambda.StartWithOptions(handler, opts...)
			return
		}
	}
	log.Error("cold start failed", "error", err)
	os.Exit(1)
}

// RunAPI is the main of an HTTP function: Run with the function's routes.
func RunAPI(fn string, register Register) {
	Run(func(env Env) (any, error) {
		svc, err := API(env, fn, register)
		if err != nil {
			return nil, err
		}
		return svc.Serve, nil
	})
}

// Service builds the runtime of function fn with no routes registered; API registers them. Tests use
// it to register a function's routes over other dependencies (a failing KMS client).
func Service(env Env, fn string) (*endpoint.Service, error) {
	c := env.Config
	if err := c.Require(config.EnvAuditTable, config.EnvBillingTable); err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	return &endpoint.Service{
		Source:      fn + ".vaultbill",
		DB:          db,
		Audit:       &audit.Store{DB: db, Table: c.AuditTable, Alert: &audit.Alerter{Log: env.Log, Metrics: env.Metrics}},
		Idempotency: &idempotency.Store{DB: db, Table: c.BillingTable},
		Account:     c.Account, Region: c.Region, Log: env.Log,
	}, nil
}
