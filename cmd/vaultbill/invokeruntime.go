package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/lambdaruntime"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// invokeOnRuntime runs function fn's own bootstrap under the Lambda Runtime Interface Emulator with the
// environment its synthesized template sets (mapped to the local stack), on one event: what
// `sam local invoke` does, without Docker. The response goes to stdout; the function's output and the
// emulator's report go to stderr.
func invokeOnRuntime(ctx context.Context, fn string, event []byte, templateDir string, stdout, stderr io.Writer) error {
	ts, source, err := runtimeTemplates(ctx, templateDir, stderr)
	if err != nil {
		return err
	}
	names := ts.FunctionNames()
	if !slices.Contains(names, fn) {
		return fmt.Errorf("unknown function %q (the template has %s)", fn, strings.Join(names, ", "))
	}
	cache := lambdaruntime.CacheDir()
	fmt.Fprintf(stderr, "building %s and the runtime interface emulator (cache %s)\n", fn, cache)
	rie, err := lambdaruntime.InstallEmulator(ctx, cache)
	if err != nil {
		return err
	}
	bins, err := lambdaruntime.Build(ctx, filepath.Join(cache, "bin"), fn)
	if err != nil {
		return err
	}
	s, err := devstack.Start(ctx, devstack.Options{
		StateDir: devstack.StateDir(), Names: resources.LocalNames, Log: logging.FromEnv(os.Stderr),
	})
	if err != nil {
		return err
	}
	defer s.Stop()
	local, err := lambdaruntime.ForStack(ctx, s, ts)
	if err != nil {
		return err
	}
	f, err := ts.Function(fn, local)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "environment of %s (%s, from %s):\n", fn, f.LogicalID, source)
	keys := make([]string, 0, len(f.Env))
	for k := range f.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stderr, "  %s=%s\n", k, f.Env[k])
	}
	inst, err := lambdaruntime.Start(ctx, rie, bins[fn], f, local, nil)
	if err != nil {
		return err
	}
	defer inst.Stop()
	r, err := inst.Invoke(ctx, event)
	fmt.Fprint(stderr, functionOutput(inst.Output()))
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, r.Payload, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(r.Payload)
	}
	fmt.Fprintln(stdout, pretty.String())
	fmt.Fprintf(stderr, "init: %.2f ms (process start to its first Runtime API next call)\n%s\n"+
		"(the emulator does not measure memory, and times its Init Duration from a call that does not wait for the init)\n",
		float64(r.Init.Microseconds())/1000, r.Report)
	if r.ErrorType != "" {
		return fmt.Errorf("%s returned an error: %s: %s", fn, r.ErrorType, r.ErrorMessage)
	}
	return nil
}

// runtimeTemplates reads the synthesized templates from dir, or from infra/cdk.out when dir is ""
// and make synth has written it, or else synthesizes the app into the cache.
func runtimeTemplates(ctx context.Context, dir string, stderr io.Writer) (lambdaruntime.Templates, string, error) {
	if dir != "" {
		ts, err := lambdaruntime.ReadTemplates(dir)
		return ts, dir, err
	}
	if ts, err := lambdaruntime.ReadTemplates(filepath.Join("infra", "cdk.out")); err == nil {
		return ts, "infra/cdk.out (make synth)", nil
	}
	out := filepath.Join(lambdaruntime.CacheDir(), "synth")
	fmt.Fprintf(stderr, "no infra/cdk.out: synthesizing the CDK app into %s (the first time, compiling it takes minutes)\n", out)
	fns, err := functionFolders()
	if err != nil {
		return nil, "", err
	}
	ts, err := lambdaruntime.Synthesize(ctx, out, fns)
	return ts, out, err
}

// functionFolders lists functions/*, the functions the CDK app deploys.
func functionFolders() ([]string, error) {
	root, err := lambdaruntime.ModuleRoot(context.Background())
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// functionOutput keeps what the function wrote, without the emulator's own lines.
func functionOutput(all string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(all, "\n") {
		if line == "" || strings.Contains(line, "(rapid)") || strings.HasPrefix(line, "START RequestId") ||
			strings.HasPrefix(line, "END RequestId") || strings.HasPrefix(line, "REPORT RequestId") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}
