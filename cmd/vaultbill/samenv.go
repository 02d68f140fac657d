package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vaultbill/vaultbill/shared/adapters/awsconfig"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/lambdaruntime"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// runSAMEnv writes the --env-vars file that lets `sam local invoke` and `sam local start-api` run the
// synthesized templates' functions against the local stack (make dev) or LocalStack.
func runSAMEnv(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sam-env", flag.ContinueOnError)
	out := fs.String("o", filepath.Join("build", "sam-env.json"), "file to write")
	endpoint := fs.String("endpoint", "http://host.docker.internal:4566",
		"the emulator as SAM's containers reach it (on Linux, pass sam --add-host host.docker.internal:host-gateway)")
	templateDir := fs.String("template", filepath.Join("infra", "cdk.out"), "folder of the synthesized templates")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ts, err := lambdaruntime.ReadTemplates(*templateDir)
	if err != nil {
		return fmt.Errorf("%w (run make synth first)", err)
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = awsconfig.DefaultRegion
	}
	account := config.From(func(string) string { return "" }).Account
	jwks, err := filepath.Abs(filepath.Join(devstack.StateDir(), "jwks.json"))
	if err != nil {
		return err
	}
	names := resources.LocalNames
	l := lambdaruntime.Local{
		Names: names, Endpoint: *endpoint, Region: region, Account: account,
		Issuer: devstack.Issuer, Audience: config.LocalAudience, JWKSFile: jwks, Topics: map[string]string{},
	}
	for _, id := range ts.Topics() {
		l.Topics[id] = "arn:aws:sns:" + region + ":" + account + ":" + names.Prefix + strings.ToLower(id)
	}
	env, err := ts.SAMEnv(l)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: the environment of %d functions, keyed by logical ID\n", *out, len(env))
	// Beside it, the templates as SAM needs them (see lambdaruntime.SAMTemplate).
	files, err := filepath.Glob(filepath.Join(*templateDir, "*.template.json"))
	if err != nil {
		return err
	}
	dir := filepath.Join(filepath.Dir(*out), "sam")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		sam, err := lambdaruntime.SAMTemplate(doc, *templateDir)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, sam, 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s\n", dst)
	}
	return nil
}
