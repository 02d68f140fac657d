package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/functions"
)

func runInvoke(ctx context.Context, args []string) error {
	return invoke(ctx, args, os.Stdout)
}

func invoke(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return fmt.Errorf("usage: vaultbill invoke FUNCTION --event events/<function>/<event>.json [--runtime [--template infra/cdk.out]]")
	}
	fn := args[0]
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	eventFile := fs.String("event", "", "event JSON file (required)")
	onRuntime := fs.Bool("runtime", false, "run the function's built bootstrap under the Lambda Runtime Interface Emulator, with its template's environment")
	templateDir := fs.String("template", "", "with --runtime: folder of the synthesized templates (default infra/cdk.out, else synthesize)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *eventFile == "" {
		return fmt.Errorf("--event is required, e.g. --event events/%s/...", fn)
	}
	event, err := os.ReadFile(*eventFile)
	if err != nil {
		return fmt.Errorf("read event: %w", err)
	}
	if *onRuntime {
		return invokeOnRuntime(ctx, fn, event, *templateDir, stdout, os.Stderr)
	}
	build, ok := functions.Builds[fn]
	if !ok {
		return fmt.Errorf("unknown function %q; the functions are the folders of functions/", fn)
	}
	s, err := devstack.Start(ctx, devstack.Options{
		StateDir: devstack.StateDir(), Names: resources.LocalNames, Log: logging.FromEnv(os.Stderr),
	})
	if err != nil {
		return err
	}
	defer s.Stop()
	h, err := build(s.FunctionEnv(fn))
	if err != nil {
		return err
	}
	// As the Lambda runtime does: the event decoded into the handler's own type, the result as JSON.
	out, err := wiring.Invoke(ctx, h, event)
	if err != nil {
		return fmt.Errorf("%s returned an error: %w", fn, err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, out, "", "  "); err != nil {
		return fmt.Errorf("%s returned no JSON: %w", fn, err)
	}
	indented.WriteByte('\n')
	_, err = indented.WriteTo(stdout)
	return err
}
