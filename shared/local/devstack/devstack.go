// Package devstack runs the whole local stack in one process: the emulator, the provisioned
// resources, every function, and the local API gateway in front of them.
package devstack

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfg "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/vaultbill/vaultbill/shared/adapters/awsconfig/workstation"
	"github.com/vaultbill/vaultbill/shared/adapters/jwt"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/emulator"
	"github.com/vaultbill/vaultbill/shared/local/gateway"
	"github.com/vaultbill/vaultbill/shared/local/provision"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/authorizer"
	"github.com/vaultbill/vaultbill/shared/wiring/functions"
)

// Issuer is the iss of locally minted tokens.
const Issuer = "https://auth.local.vaultbill"

// Options configure a local stack.
type Options struct {
	// Endpoint of the emulator; "" means AWS_ENDPOINT_URL or emulator.DefaultEndpoint.
	Endpoint string
	// Addr the gateway listens on, e.g. "127.0.0.1:3000"; "" means do not serve HTTP.
	Addr string
	// StateDir keeps the local signing key and JWKS.
	StateDir string
	Names    resources.Names
	Log      *slog.Logger
	// EmulatorLog receives moto_server's own output.
	EmulatorLog io.Writer
	// Progress reports provisioning.
	Progress func(kind, name string, created bool)
	// Metrics receives the functions' Embedded Metric Format lines; nil discards them.
	Metrics io.Writer
	// ConsumeAudit runs the audit stream's consumer and the digest schedule in the background, as
	// Lambda and EventBridge do in AWS. Only the long-running `vaultbill dev` sets it: the stream must
	// have one consumer, or every record is shipped once per consumer. The consumer's position is kept
	// in StateDir, so a restart resumes after the last record shipped.
	ConsumeAudit bool
	// AuditPoll is how often the consumer polls the stream (default 1s); a negative value runs no
	// background workers even with ConsumeAudit, and the caller drives them through Stack.Audit.
	AuditPoll time.Duration
	// Schedules runs the scheduled functions (backup, restore test) in the background, every
	// BackupEvery and RestoreTestEvery (default daily and weekly).
	Schedules                     bool
	BackupEvery, RestoreTestEvery time.Duration
	// FunctionAWS, if set, adapts the AWS configuration each function runs with, by the function's
	// name in the function table (infra/stacks.Functions): tests record the calls each function makes
	// (stacktest.Recorder). The stack's own provisioning and plumbing use the configuration as it is.
	FunctionAWS func(fn string, cfg aws.Config) aws.Config
	// PageCheckEvery is how often the hosted page is checked against its inventory (default weekly).
	PageCheckEvery time.Duration
}

// Stack is a running local stack.
type Stack struct {
	Env      wiring.Env
	Names    resources.Names
	Gateway  *gateway.Gateway
	Emulator *emulator.Emulator
	// URL is the gateway's base URL when it serves HTTP.
	URL string
	// Pool is the emulator's user pool, whose tokens the stack accepts beside locally minted ones.
	Pool provision.Pool
	// Audit runs the audit trail's stream consumer and digest schedule.
	Audit    *AuditWorkers
	key      *rsa.PrivateKey
	kid      string
	server   *http.Server
	serveErr chan error
	// stopSchedules stops the background schedules, if they run.
	stopSchedules func()
	// functionAWS is Options.FunctionAWS.
	functionAWS func(fn string, cfg aws.Config) aws.Config
}

// StateDir returns VAULTBILL_STATE or .vaultbill in the working directory (git-ignored).
func StateDir() string {
	if d := os.Getenv("VAULTBILL_STATE"); d != "" {
		return d
	}
	return ".vaultbill"
}

// AWSConfig is the SDK configuration for an emulator: its endpoint, dummy credentials unless the
// environment has some (LocalStack and moto accept any), and DynamoDB calls made one at a time, which
// moto needs to keep transactions isolated (see serialDynamoDB).
func AWSConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	opts := []func(*awscfg.LoadOptions) error{awscfg.WithBaseEndpoint(endpoint)}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, awscfg.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	cfg, err := workstation.Load(ctx, opts...)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.HTTPClient = cognitoChallenges{newSerialDynamoDB(cfg.HTTPClient)}
	return cfg, nil
}

// Start brings the stack up. Stop must be called to release what it started.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Endpoint == "" {
		o.Endpoint = emulator.Endpoint()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.EmulatorLog == nil {
		o.EmulatorLog = io.Discard
	}
	emu, err := emulator.Ensure(ctx, o.Endpoint, o.EmulatorLog)
	if err != nil {
		return nil, err
	}
	s := &Stack{Emulator: emu, Names: o.Names, functionAWS: o.FunctionAWS}
	if err := s.start(ctx, o); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context, o Options) error {
	cfg, err := AWSConfig(ctx, o.Endpoint)
	if err != nil {
		return err
	}
	p := provision.New(cfg, o.Names)
	p.Progress = o.Progress
	if err := p.Apply(ctx); err != nil {
		return fmt.Errorf("provision local stack: %w", err)
	}
	if s.Pool, err = p.UserPool(ctx, o.Endpoint); err != nil {
		return fmt.Errorf("provision local user pool: %w", err)
	}
	if s.key, s.kid, err = jwt.LoadOrCreateKey(o.StateDir); err != nil {
		return fmt.Errorf("local signing key: %w", err)
	}
	jwksFile := filepath.Join(o.StateDir, "jwks.json")
	if err := jwt.WriteJWKS(jwksFile, jwt.JWKS{Keys: []jwt.JWK{jwt.PublicJWK(s.kid, &s.key.PublicKey)}}); err != nil {
		return fmt.Errorf("write local JWKS: %w", err)
	}
	env := config.Local(o.Names, Issuer, jwksFile)
	for k, v := range poolEnv(s.Pool) {
		env[k] = v
	}
	c := config.From(func(k string) string { return env[k] })
	c.Region = cfg.Region
	s.Env = wiring.Env{Config: c, AWS: cfg, Log: o.Log, Metrics: o.Metrics}

	authz, err := authorizer.New(s.FunctionEnv("authorizer"))
	if err != nil {
		return err
	}
	s.Gateway = &gateway.Gateway{
		Authorizer: authz.Handle, Functions: map[string]gateway.Function{},
		Account: c.Account, Region: c.Region, Log: o.Log,
	}
	for _, fn := range routes.Functions() {
		register, ok := functions.APIs[fn]
		if !ok {
			continue
		}
		svc, err := wiring.API(s.FunctionEnv(fn), fn, register)
		if err != nil {
			return err
		}
		s.Gateway.Functions[fn] = svc.Serve
	}
	if s.Audit, err = newAuditWorkers(s); err != nil {
		return err
	}
	if o.ConsumeAudit && o.AuditPoll >= 0 {
		s.Audit.PositionFile = filepath.Join(o.StateDir, "audit-stream-"+c.AuditTable+".json")
		poll := o.AuditPoll
		if poll == 0 {
			poll = time.Second
		}
		s.Audit.Start(poll, time.Hour)
	}
	if o.Schedules {
		if err := s.startSchedules(o); err != nil {
			return err
		}
	}
	if o.Addr != "" {
		return s.serve(o.Addr)
	}
	return nil
}

// FunctionEnv is the environment function fn runs with (its name in the function table): the
// stack's, with the AWS configuration Options.FunctionAWS gives it.
func (s *Stack) FunctionEnv(fn string) wiring.Env {
	env := s.Env
	if s.functionAWS != nil {
		env.AWS = s.functionAWS(fn, env.AWS)
	}
	return env
}

func (s *Stack) serve(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (set PORT to use another port): %w", addr, err)
	}
	s.URL = "http://" + l.Addr().String()
	s.server = &http.Server{Handler: s.Gateway, ReadHeaderTimeout: 10 * time.Second}
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.server.Serve(l) }()
	return nil
}

// Done reports a failure of the HTTP server.
func (s *Stack) Done() <-chan error { return s.serveErr }

// Stop shuts the gateway and the schedules down and stops the emulator if the stack started it.
func (s *Stack) Stop() {
	if s.stopSchedules != nil {
		s.stopSchedules()
	}
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.server.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = s.server.Close()
		}
	}
	if s.Audit != nil {
		s.Audit.Stop()
	}
	s.Emulator.Stop()
}

// TokenSpec describes a token to mint.
type TokenSpec struct {
	Role       string
	Subject    string
	CustomerID string
	NoMFA      bool
	TTL        time.Duration
}

// Token mints a token the local authorizer accepts.
func (s *Stack) Token(spec TokenSpec) (string, error) { return Mint(s.key, s.kid, spec) }

// Mint signs a local token with key, shaped like a Cognito ID token.
func Mint(key *rsa.PrivateKey, kid string, spec TokenSpec) (string, error) {
	if spec.TTL == 0 {
		spec.TTL = 15 * time.Minute
	}
	if spec.Subject == "" {
		spec.Subject = spec.Role + "-user"
	}
	now := time.Now()
	amr := []string{"pwd", "mfa"}
	if spec.NoMFA {
		amr = []string{"pwd"}
	}
	claims := map[string]any{
		"sub": spec.Subject, "iss": Issuer, "aud": config.LocalAudience,
		"iat": now.Unix(), "exp": now.Add(spec.TTL).Unix(),
		"token_use": "id", "cognito:username": spec.Subject,
		"cognito:groups": []string{spec.Role}, "amr": amr,
	}
	if spec.CustomerID != "" {
		claims["custom:customer_id"] = spec.CustomerID
	}
	return jwt.Sign(key, kid, claims)
}

// MintFromState signs a token with the key in stateDir, as `vaultbill token` does.
func MintFromState(stateDir string, spec TokenSpec) (string, error) {
	key, kid, err := jwt.LoadOrCreateKey(stateDir)
	if err != nil {
		return "", err
	}
	return Mint(key, kid, spec)
}
