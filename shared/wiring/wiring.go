// Package wiring builds each function from its environment: it is the only code that reads a
// function's configuration and makes its SDK clients. Handlers, adapters and operations take plain
// dependency structs and never import it.
//
// This package holds what every function shares (the environment, the Lambda entry point, the HTTP
// runtime); each function's own wiring is a package below it (shared/wiring/invoices, ...), so a
// function's binary links its own code only. shared/wiring/functions lists them all for the CLI and the
// local stack, which run the same wiring as the Lambdas.
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

// Audit is the audit outbox of a function: the audit table, with alerts to the function's log and
// metrics. Every function that writes audit records writes them through it.
func Audit(env Env, db audit.PutItemAPI) *audit.Store {
	return &audit.Store{DB: db, Table: env.Config.AuditTable, Alert: &audit.Alerter{Log: env.Log, Metrics: env.Metrics}}
}

// Handler is a built function: what lambda.Start takes (a func of a context and an event) and the
// runtime options it needs, such as a SIGTERM hook.
type Handler struct {
	Func    any
	Options []lambda.Option
}

// Build makes one function's handler from its environment, once per cold start. Each function's
// wiring package has one; its main runs it, the CLI's invoke and the local stack call the same one.
// The handler is used only when the error is nil. Builds are functions, not variables: a variable's
// initializer would link its function's whole code into every binary that imports the package.
type Build func(env Env) (Handler, error)

// Run is a function's main: it sets up the redacting logger, reads the configuration and builds the
// handler once (cold start), then hands it to the Lambda runtime. A misconfigured function exits at
// cold start with a message naming what is missing, rather than failing its first request.
func Run(build Build) {
	log := logging.FromEnv(os.Stdout)
	slog.SetDefault(log)
	env, err := Load(context.Background(), log)
	if err == nil {
		var h Handler
		if h, err = build(env); err == nil {
			lambda.StartWithOptions(h.Func, h.Options...)
			return
		}
	}
	log.Error("cold start failed", "error", err)
	os.Exit(1)
}

// Invoke runs a built function on one raw event as the Lambda runtime would (the event decoded into
// the handler's own type, the result encoded as JSON): `vaultbill invoke` serves with it.
func Invoke(ctx context.Context, h Handler, event []byte) ([]byte, error) {
	return lambda.NewHandler(h.Func).Invoke(ctx, event)
}

// Register adds one HTTP function's routes to its service, building the clients they need from env.
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

// HTTP is the Build of the HTTP function fn: its service with the routes register adds.
func HTTP(fn string, register Register) Build {
	return func(env Env) (Handler, error) {
		svc, err := API(env, fn, register)
		if err != nil {
			return Handler{}, err
		}
		return Handler{Func: svc.Serve}, nil
	}
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
		Audit:       Audit(env, db),
		Idempotency: &idempotency.Store{DB: db, Table: c.BillingTable},
		Account:     c.Account, Region: c.Region, Log: env.Log,
	}, nil
}
