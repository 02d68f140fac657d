package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/emulator"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

func runDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	port := fs.String("port", envOr("PORT", "3000"), "port of the local API (env PORT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	endpoint := emulator.Endpoint()
	fmt.Fprintf(os.Stderr, "emulator: %s\n", endpoint)
	s, err := devstack.Start(ctx, devOptions(endpoint, *port))
	if err != nil {
		return err
	}
	defer s.Stop()
	if s.Emulator.Started {
		fmt.Fprintln(os.Stderr, "started moto_server; it stops when you stop this command")
	}
	fmt.Fprintf(os.Stderr, `
Vaultbill is running at %s
  curl %s/health
  curl -H "Authorization: Bearer $(go run ./cmd/vaultbill token --role admin)" %s/v1/me
Backups run daily and the restore test weekly; run them now with
  go run ./cmd/vaultbill backup   /   go run ./cmd/vaultbill restore-test
Ctrl-C stops it.
`, s.URL, s.URL, s.URL)
	select {
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "\nstopping")
		return nil
	case err := <-s.Done():
		return fmt.Errorf("local API stopped: %w", err)
	}
}

// emulatorLog sends moto's request log to a file in the state folder rather than the terminal.
func emulatorLog() *os.File {
	dir := devstack.StateDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return os.Stderr
	}
	f, err := os.OpenFile(dir+"/emulator.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		slog.Warn("cannot open emulator log; using stderr", "error", err)
		return os.Stderr
	}
	return f
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// devOptions is the local stack `vaultbill dev` runs: the API on port, the schedules, and the one
// consumer of the audit stream.
func devOptions(endpoint, port string) devstack.Options {
	return devstack.Options{
		Endpoint:    endpoint,
		Addr:        net.JoinHostPort("127.0.0.1", port),
		StateDir:    devstack.StateDir(),
		Names:       resources.LocalNames,
		Log:         logging.FromEnv(os.Stdout),
		Metrics:     os.Stdout,
		EmulatorLog: emulatorLog(),
		Schedules:   true, // daily backup, weekly restore test, as EventBridge runs them in AWS
		// The one consumer of the audit stream; other commands that start the stack only write to it.
		ConsumeAudit: true,
		Progress: func(kind, name string, created bool) {
			verb := "exists "
			if created {
				verb = "created"
			}
			fmt.Fprintf(os.Stderr, "  %s %-6s %s\n", verb, kind, name)
		},
	}
}
