package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/authorizer"
	"github.com/vaultbill/vaultbill/shared/handlers/wafaudit"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// invokers run one function on a raw event and return its JSON result.
var invokers = map[string]func(ctx context.Context, env wiring.Env, event []byte) (any, error){
	"authorizer": func(ctx context.Context, env wiring.Env, event []byte) (any, error) {
		var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, fmt.Errorf("event is not an authorizer request: %w", err)
		}
		a, err := authorizer.Build(env)
		if err != nil {
			return nil, err
		}
		return a.Handle(ctx, ev)
	},
	"backup": func(ctx context.Context, env wiring.Env, event []byte) (any, error) {
		var ev backup.BackupEvent
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, fmt.Errorf("event is not an EventBridge event: %w", err)
		}
		r, err := backup.FromEnv(env, backup.BackupPrincipal)
		if err != nil {
			return nil, err
		}
		return r.HandleBackup(ctx, ev)
	},
	"restore-test": func(ctx context.Context, env wiring.Env, event []byte) (any, error) {
		var ev backup.RestoreTestEvent
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, fmt.Errorf("event is not an EventBridge event: %w", err)
		}
		r, err := backup.RestoreTestFromEnv(env, backup.RestoreTestPrincipal)
		if err != nil {
			return nil, err
		}
		return r.HandleRestoreTest(ctx, ev)
	},
	// Locally there is no WAF: this feeds a WAF log subscription event to the function.
	"waf-audit": func(ctx context.Context, env wiring.Env, event []byte) (any, error) {
		var ev events.CloudwatchLogsEvent
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, fmt.Errorf("event is not a CloudWatch Logs subscription event: %w", err)
		}
		a, err := wafaudit.Build(env)
		if err != nil {
			return nil, err
		}
		return nil, a.Handle(ctx, ev)
	},
}

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
	run, ok := invokers[fn]
	if register, isAPI := devstack.Functions[fn]; !ok && isAPI {
		run = invokeAPI(fn, register)
	} else if !ok {
		return fmt.Errorf("unknown function %q", fn)
	}
	s, err := devstack.Start(ctx, devstack.Options{
		StateDir: devstack.StateDir(), Names: resources.LocalNames, Log: logging.FromEnv(os.Stderr),
	})
	if err != nil {
		return err
	}
	defer s.Stop()
	out, err := run(ctx, s.Env, event)
	if err != nil {
		return fmt.Errorf("%s returned an error: %w", fn, err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func invokeAPI(fn string, register wiring.Register) func(ctx context.Context, env wiring.Env, event []byte) (any, error) {
	return func(ctx context.Context, env wiring.Env, event []byte) (any, error) {
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, fmt.Errorf("event is not an API Gateway proxy request: %w", err)
		}
		svc, err := wiring.API(env, fn, register)
		if err != nil {
			return nil, err
		}
		return svc.Serve(ctx, ev)
	}
}
