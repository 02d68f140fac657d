package templatetests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/lambdaruntime"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/local/emulator"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/functions"
)

// runtimeStack is what the runtime tests share: the functions built as make build builds them (for
// this machine), the runtime interface emulator, and a local stack on the AWS emulator.
type runtimeStack struct {
	rie        string
	bootstraps map[string]string
	local      lambdaruntime.Local
	// raw is each stack's template JSON: every test parses its own copy, so one can edit it.
	raw [][]byte
}

func startRuntime(tb testing.TB, extra ...string) *runtimeStack {
	tb.Helper()
	ctx := context.Background()
	ep := os.Getenv("AWS_ENDPOINT_URL")
	if ep == "" {
		if _, err := exec.LookPath("moto_server"); err != nil {
			if os.Getenv("CI") != "" {
				tb.Fatalf("moto_server is not installed (%s)", emulator.InstallHint)
			}
			tb.Skipf("skipping: moto_server is not installed (%s)", emulator.InstallHint)
		}
		var err error
		if ep, err = emulator.FreeEndpoint(); err != nil {
			tb.Fatal(err)
		}
		emu, err := emulator.Ensure(ctx, ep, io.Discard)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(emu.Stop)
	}
	h := &runtimeStack{raw: rawTemplates(tb)}
	start := time.Now()
	var err error
	cache := lambdaruntime.CacheDir()
	if h.rie, err = lambdaruntime.InstallEmulator(ctx, cache); err != nil {
		tb.Fatal(err)
	}
	if h.bootstraps, err = lambdaruntime.Build(ctx, filepath.Join(cache, "bin"), append(stacks.FunctionNames(), extra...)...); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("built %d bootstraps and the emulator in %s", len(h.bootstraps), time.Since(start).Round(time.Millisecond))
	// The gateway serves HTTP so that a stage URL in the template (the page check's) maps to it.
	s, err := devstack.Start(ctx, devstack.Options{
		Endpoint: ep, Addr: "127.0.0.1:0", StateDir: tb.TempDir(), Names: resources.Names{Prefix: stacktest.UniquePrefix()}, AuditPoll: -1,
	})
	if err != nil {
		tb.Fatalf("start local stack: %v", err)
	}
	tb.Cleanup(s.Stop)
	if h.local, err = lambdaruntime.ForStack(ctx, s, h.templates(tb)); err != nil {
		tb.Fatal(err)
	}
	return h
}

func (h *runtimeStack) templates(tb testing.TB) lambdaruntime.Templates {
	tb.Helper()
	ts, err := lambdaruntime.ParseTemplates(h.raw...)
	if err != nil {
		tb.Fatal(err)
	}
	return ts
}

// start runs one function of ts under the emulator; the test stops it.
func (h *runtimeStack) start(tb testing.TB, ts lambdaruntime.Templates, name string) *lambdaruntime.Instance {
	tb.Helper()
	f, err := ts.Function(name, h.local)
	if err != nil {
		tb.Fatal(err)
	}
	inst, err := lambdaruntime.Start(context.Background(), h.rie, h.bootstraps[name], f, h.local, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(inst.Stop)
	return inst
}

func sampleEvents(tb testing.TB, fn string) map[string][]byte {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "events", fn, "*.json"))
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// answerProblem says what is wrong with a function's answer to a sample event, or "". A handler
// error is a failure except the authorizer's "Unauthorized", which is how a Lambda authorizer tells
// API Gateway to answer 401; an API response must not be a 5xx; a stream batch must not report failed
// items.
func answerProblem(fn string, r lambdaruntime.Result) string {
	if r.ErrorType != "" {
		if fn == "authorizer" && r.ErrorMessage == "Unauthorized" {
			return ""
		}
		return fmt.Sprintf("handler error %s: %s", r.ErrorType, r.ErrorMessage)
	}
	var answer struct {
		StatusCode        int               `json:"statusCode"`
		BatchItemFailures []json.RawMessage `json:"batchItemFailures"`
	}
	_ = json.Unmarshal(r.Payload, &answer)
	if answer.StatusCode >= 500 {
		return fmt.Sprintf("status %d: %s", answer.StatusCode, r.Payload)
	}
	if len(answer.BatchItemFailures) > 0 {
		return fmt.Sprintf("failed batch items: %s", r.Payload)
	}
	return ""
}

// TestFunctionsOnTheLambdaRuntime runs every function's own bootstrap, built as make build builds
// it, under AWS's Lambda Runtime Interface Emulator with exactly the environment the synthesized
// template gives it (mapped to a local stack), on every sample event of events/<function>/. A
// variable the code requires and the template does not set fails here, naming both.
func TestFunctionsOnTheLambdaRuntime(t *testing.T) {
	h := startRuntime(t)
	ts := h.templates(t)
	if got, want := ts.FunctionNames(), stacks.FunctionNames(); !slices.Equal(got, sorted(want)) {
		t.Fatalf("functions in the template: %v, in the function table: %v", got, want)
	}
	ctx := context.Background()
	for _, name := range stacks.FunctionNames() { // table order: backup runs before restore-test
		t.Run(name, func(t *testing.T) {
			evs := sampleEvents(t, name)
			if len(evs) == 0 {
				t.Fatalf("no sample events in events/%s: every function needs at least one", name)
			}
			inst := h.start(t, ts, name)
			files := make([]string, 0, len(evs))
			for f := range evs {
				files = append(files, f)
			}
			sort.Strings(files)
			for _, file := range files {
				r, err := inst.Invoke(ctx, evs[file])
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				if p := answerProblem(name, r); p != "" {
					t.Errorf("%s on %s: %s\n%s", name, file, p, inst.Output())
				}
				if r.Init > 0 {
					t.Logf("%s: init %s; %s", file, r.Init, r.Report)
				}
			}
		})
	}

	// The checker itself: the template with one variable removed must fail, naming the function and
	// the variable, at cold start (a regression test of the mechanism, not of the template).
	t.Run("a variable missing from the template is named", func(t *testing.T) {
		ts := h.templates(t)
		removeVariable(t, ts, "me", config.EnvBillingTable)
		inst := h.start(t, ts, "me")
		_, err := inst.Invoke(ctx, sampleEvents(t, "me")["get-me.json"])
		var cs *lambdaruntime.ColdStartError
		if !errors.As(err, &cs) || cs.Function != "me" || !slices.Equal(cs.Missing, []string{config.EnvBillingTable}) {
			t.Fatalf("me without %s: %v, want a cold start error naming me and %[1]s", config.EnvBillingTable, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "me") || !strings.Contains(msg, config.EnvBillingTable) {
			t.Fatalf("error %q does not name the function and the variable", msg)
		}
	})
}

// removeVariable deletes one environment variable of one function from parsed templates.
func removeVariable(tb testing.TB, ts lambdaruntime.Templates, fn, name string) {
	tb.Helper()
	prefix := lambdaruntime.LogicalID(fn, "Function")
	for _, t := range ts {
		for id, r := range t.Resources {
			if r.Type == "AWS::Lambda::Function" && strings.HasPrefix(id, prefix) {
				vars, _ := cfn.Get(r.Properties, "Environment", "Variables").(map[string]any)
				if _, ok := vars[name]; !ok {
					tb.Fatalf("%s does not set %s", id, name)
				}
				delete(vars, name)
				return
			}
		}
	}
	tb.Fatalf("no function %s", fn)
}

// TestRuntimeLogicalIDs: the runtime harness finds resources by the stacks' logical ID rule.
func TestRuntimeLogicalIDs(t *testing.T) {
	for _, id := range append(stacks.FunctionNames(), "audit-signing", "billing", "access-logs") {
		for _, kind := range []string{"Function", "Table", "Key", "Bucket"} {
			if got, want := lambdaruntime.LogicalID(id, kind), stacks.LogicalID(id, kind); got != want {
				t.Errorf("LogicalID(%q, %q) = %q, stacks say %q", id, kind, got, want)
			}
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// TestConfigurationReads lists, per function, the variables its code asks for by name at cold start
// (shared/api/config's Require and Lookup) that its template does not set: a required one fails (the
// runtime test fails too, at the function's start), an optional one is reported with its default in
// use, so a setting the CDK app should pin does not go unnoticed.
func TestConfigurationReads(t *testing.T) {
	ts, err := lambdaruntime.ParseTemplates(rawTemplates(t)...)
	if err != nil {
		t.Fatal(err)
	}
	l := lambdaruntime.Local{Names: resources.LocalNames, Region: "us-east-1", Account: "000000000000",
		Issuer: devstack.Issuer, Audience: config.LocalAudience, JWKSFile: filepath.Join(t.TempDir(), "jwks.json"),
		Topics: map[string]string{}, UserPoolID: "us-east-1_local", URL: "http://127.0.0.1:3000"}
	for _, id := range ts.Topics() {
		l.Topics[id] = "arn:aws:sns:us-east-1:000000000000:" + id
	}
	for _, name := range stacks.FunctionNames() {
		f, err := ts.Function(name, l)
		if err != nil {
			t.Fatal(err)
		}
		// Each function is built in process by the same wiring as its main.
		build, ok := functions.Builds[name]
		if !ok {
			t.Fatalf("no wiring for %s in shared/wiring/functions", name)
		}
		var read []string
		// config.From reads every field it knows at once; what is read after it is what the
		// function's own code asks for by name.
		reading := false
		c := config.From(func(k string) string {
			if reading && !slices.Contains(read, k) {
				read = append(read, k)
			}
			return f.Env[k]
		})
		reading = true
		_, err = build(wiring.Env{Config: c, AWS: aws.Config{Region: "us-east-1"}, Log: slog.New(slog.DiscardHandler)})
		var unset []string
		for _, k := range read {
			if _, ok := f.Env[k]; !ok {
				unset = append(unset, k)
			}
		}
		sort.Strings(unset)
		switch {
		case err != nil:
			t.Errorf("%s does not build from its template's environment: %v (read but unset: %v)", name, err, unset)
		case len(unset) > 0:
			t.Logf("%s reads %s, unset in its template: their defaults are in use", name, strings.Join(unset, ", "))
		}
	}
}

func rawTemplates(tb testing.TB) [][]byte {
	tb.Helper()
	var raw [][]byte
	for _, name := range []string{stacks.DataStackName, stacks.APIStackName} {
		b, err := json.Marshal(tmpl[name].ToJSON())
		if err != nil {
			tb.Fatal(err)
		}
		raw = append(raw, b)
	}
	return raw
}
