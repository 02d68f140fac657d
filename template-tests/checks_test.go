package templatetests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// TestNagReportsHaveNoUnsuppressedFindings reads the cdk-nag reports written at synth: every rule of
// AwsSolutions and PCI DSS 3.2.1 is compliant or suppressed (with a reason) on every resource.
func TestNagReportsHaveNoUnsuppressedFindings(t *testing.T) {
	if errs := stacks.Errors(assembly); len(errs) > 0 {
		t.Errorf("error annotations:\n%s", strings.Join(errs, "\n"))
	}
	for _, pack := range []string{"AwsSolutions", "PCI.DSS.321"} {
		for _, stack := range []string{stacks.DataStackName, stacks.APIStackName, stacks.OffsiteStackName} {
			path := filepath.Join(outdir, "cdk.out", pack+"-"+stack+"-NagReport.json")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("no %s report for %s: %v", pack, stack, err)
				continue
			}
			var report struct {
				Lines []struct{ RuleID, ResourceID, Compliance, ExceptionReason, RuleLevel string }
			}
			if err := json.Unmarshal(b, &report); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if len(report.Lines) == 0 {
				t.Errorf("%s: empty report", path)
			}
			for _, l := range report.Lines {
				switch {
				case l.Compliance == "Non-Compliant":
					t.Errorf("%s %s: %s is non-compliant (%s)", pack, l.ResourceID, l.RuleID, l.RuleLevel)
				case l.Compliance == "Suppressed" && len(l.ExceptionReason) < 20:
					t.Errorf("%s %s: %s suppressed without a real reason: %q", pack, l.ResourceID, l.RuleID, l.ExceptionReason)
				}
			}
		}
	}
}

// TestCfnLint runs cfn-lint over the synthesized templates: no errors allowed. It skips when cfn-lint
// is not installed, except in CI (CI set), where it fails.
func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cfn-lint is required in CI: python3 -m pip install cfn-lint")
		}
		t.Skip("cfn-lint not installed (python3 -m pip install cfn-lint); CI runs it")
	}
	templates, _ := filepath.Glob(filepath.Join(outdir, "cdk.out", "*.template.json"))
	if len(templates) != 3 {
		t.Fatalf("want 3 templates, found %v", templates)
	}
	// W3005 (a DependsOn also implied by a GetAtt) is how CDK orders a role's policy before its function.
	args := append([]string{"--format", "parseable", "--ignore-checks", "W3005", "--"}, templates...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	var errorsFound []string
	for _, line := range strings.Split(string(out), "\n") {
		if regexp.MustCompile(`:E\d{4}:`).MatchString(line) {
			errorsFound = append(errorsFound, line)
		}
	}
	if len(errorsFound) > 0 {
		t.Errorf("cfn-lint errors:\n%s", strings.Join(errorsFound, "\n"))
	}
	// cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational; anything else is a crash.
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode()&^(4|8) != 0) && len(errorsFound) == 0 {
		t.Errorf("cfn-lint failed: %v\n%s", err, out)
	} else if err != nil {
		t.Logf("cfn-lint warnings:\n%s", out)
	}
}

// TestServerlessChecks applies the rules of cdk-nag's ServerlessChecks pack over the templates. The
// pack is not part of cdk-nag 2.35.0 (the version pinned in go.mod), so its rules are written out here.
func TestServerlessChecks(t *testing.T) {
	asyncFns := map[string]bool{}
	for _, id := range api().ofType("AWS::Lambda::EventInvokeConfig") {
		p := api().Resources[id].Properties
		if cfn.Get(p, "DestinationConfig", "OnFailure", "Destination") != nil {
			asyncFns[cfn.Get(p, "FunctionName", "Ref").(string)] = true
		}
	}
	for _, f := range stacks.Functions {
		id, fn := function(t, f.Name)
		p := fn.Properties
		if cfn.Get(p, "TracingConfig", "Mode") != "Active" {
			t.Errorf("Serverless-LambdaTracing: %s", f.Name)
		}
		if m, _ := p["MemorySize"].(float64); m == 0 || m == 128 {
			t.Errorf("Serverless-LambdaDefaultMemorySize: %s has the default memory size", f.Name)
		}
		if to, _ := p["Timeout"].(float64); to == 0 || to == 3 {
			t.Errorf("Serverless-LambdaDefaultTimeout: %s has the default timeout", f.Name)
		}
		if cfn.Get(p, "LoggingConfig", "LogFormat") != "JSON" || cfn.Get(p, "LoggingConfig", "ApplicationLogLevel") == nil {
			t.Errorf("Serverless-LambdaLogLevel: %s must log JSON with an application log level: %s", f.Name, jsonOf(p["LoggingConfig"]))
		}
		scheduled := f.Trigger == stacks.Hourly || f.Trigger == stacks.Daily || f.Trigger == stacks.Weekly
		if scheduled && !asyncFns[id] {
			t.Errorf("Serverless-LambdaAsyncFailureDestination: %s is invoked asynchronously and has no on-failure destination", f.Name)
		}
	}
	for _, id := range api().ofType("AWS::Lambda::EventSourceMapping") {
		if cfn.Get(api().Resources[id].Properties, "DestinationConfig", "OnFailure", "Destination") == nil {
			t.Errorf("Serverless-LambdaEventSourceMappingDestination: %s", id)
		}
	}
	for stack, tpl := range doc {
		for _, id := range tpl.ofType("AWS::Logs::LogGroup") {
			if tpl.Resources[id].Properties["RetentionInDays"] == nil {
				t.Errorf("Serverless-CloudWatchLogGroupRetentionPeriod: %s/%s keeps logs forever", stack, id)
			}
		}
		for _, id := range tpl.ofType("AWS::Events::Rule") {
			for _, target := range cfn.List(tpl.Resources[id].Properties["Targets"]) {
				if cfn.Get(target, "DeadLetterConfig", "Arn") == nil {
					t.Errorf("Serverless-EventBusDLQ: %s/%s target has no dead-letter queue", stack, id)
				}
			}
		}
		for _, id := range tpl.ofType("AWS::SNS::Subscription") {
			if tpl.Resources[id].Properties["RedrivePolicy"] == nil && tpl.Resources[id].Properties["Protocol"] != "email" {
				t.Errorf("Serverless-SNSRedrivePolicy: %s/%s", stack, id)
			}
		}
	}
	_, st := api().byPrefix(t, "AWS::ApiGateway::Stage", "ApiDeploymentStage")
	if st.Properties["TracingEnabled"] != true {
		t.Error("Serverless-APIGWXrayEnabled")
	}
	if format, _ := cfn.Get(st.Properties, "AccessLogSetting", "Format").(string); !json.Valid([]byte(strings.ReplaceAll(format, "$context.", "context."))) {
		t.Errorf("Serverless-APIGWStructuredLogging: access log format is not JSON: %s", format)
	}
	if cfn.Get(cfn.List(st.Properties["MethodSettings"])[0], "ThrottlingRateLimit") == nil {
		t.Error("Serverless-APIGWDefaultThrottling")
	}
	// Serverless-SQSRedrivePolicy: the only queue is the failure queue, itself the end of every retry
	// path (see the AwsSolutions-SQS3 suppression); it is alarmed instead.
	if q := api().ofType("AWS::SQS::Queue"); len(q) != 1 {
		t.Errorf("Serverless-SQSRedrivePolicy: queues %v; only the failure queue may lack a redrive policy", q)
	}
}

// TestComplianceDocListsEverySuppression keeps docs/compliance.md true: each suppressed rule and
// each wildcard reason appears in it.
func TestComplianceDocListsEverySuppression(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "compliance.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, s := range stacks.Suppressions {
		if !strings.Contains(text, s.Rule) || !strings.Contains(text, s.Reason) {
			t.Errorf("docs/compliance.md must list %s with its reason %q", s.Rule, s.Reason)
		}
	}
	for _, w := range stacks.Wildcards {
		if !strings.Contains(text, w.Reason) {
			t.Errorf("docs/compliance.md must list the wildcard reason %q", w.Reason)
		}
	}
}

// TestEveryFunctionIsBuilt: the stacks deploy build/<name>/ for each row of the function table, and
// make build builds each folder under functions/, so the two lists must be the same.
func TestEveryFunctionIsBuilt(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("..", "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	want := append([]string(nil), stacks.FunctionNames()...)
	sort.Strings(want)
	if d := cmp.Diff(want, dirs); d != "" {
		t.Errorf("functions (-function table +functions/):\n%s", d)
	}
}

// TestComplianceDocListsEveryFunction keeps the function table of docs/compliance.md equal to the
// function table the stacks are built from.
func TestComplianceDocListsEveryFunction(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "compliance.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range stacks.Functions {
		if row := FunctionRow(f); !strings.Contains(string(b), row) {
			t.Errorf("docs/compliance.md must have the row\n%s", row)
		}
	}
}

// FunctionRow renders one row of the function table as docs/compliance.md shows it.
func FunctionRow(f stacks.Function) string {
	reserved := "—"
	if f.Reserved > 0 {
		reserved = strconv.Itoa(f.Reserved)
	}
	touches := make([]string, len(f.Touches))
	for i, p := range f.Touches {
		touches[i] = string(p)
	}
	return fmt.Sprintf("| %s | %d MB | %s | %s | %s | %s |", f.Name, f.MemoryMB, f.Timeout, reserved, f.Trigger, strings.Join(touches, "; "))
}

// TestLayoutSaysWhatEachPackageIs: the folders of shared/ are a promise the README makes to a reader
// (the domain imports no AWS code and no adapter; no function links what exists only for the local stack
// and tests),
// so the build graph is checked against them.
func TestLayoutSaysWhatEachPackageIs(t *testing.T) {
	deps := func(pattern string) []string {
		out, err := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", pattern).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pattern, err)
		}
		return strings.Fields(string(out))
	}
	const module = "github.com/vaultbill/vaultbill/"
	for _, p := range deps("../shared/domain/...") {
		for _, outside := range []string{"github.com/aws/", module + "shared/adapters/", module + "shared/handlers/", module + "shared/ops/", module + "shared/local/"} {
			if strings.HasPrefix(p, outside) {
				t.Errorf("the domain depends on %s", p)
			}
		}
	}
	for _, p := range deps("../functions/...") {
		if strings.HasPrefix(p, module+"shared/local/") {
			t.Errorf("a function links %s, which exists for the local stack and tests only", p)
		}
	}
	// Wiring points one way: it builds handlers, adapters and operations from plain dependency structs,
	// and none of them knows how it is built.
	for _, group := range []string{"domain", "adapters", "api", "handlers", "ops"} {
		for _, p := range deps("../shared/" + group + "/...") {
			if strings.HasPrefix(p, module+"shared/wiring") {
				t.Errorf("shared/%s depends on %s: only mains, the CLI and the local stack use the wiring", group, p)
			}
		}
	}
	// Each function links its own wiring and no other function's, so a binary holds only the code
	// (and the configuration it reads) of its own function.
	fns, err := os.ReadDir("../functions")
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		var own []string
		for _, p := range deps("../functions/" + fn.Name()) {
			switch rest, ok := strings.CutPrefix(p, module+"shared/wiring/"); {
			case !ok || rest == "cards":
				// shared/wiring itself, and what the two card functions share.
			case rest == "functions":
				t.Errorf("functions/%s links the table of every function's wiring", fn.Name())
			default:
				own = append(own, rest)
			}
		}
		if len(own) != 1 {
			t.Errorf("functions/%s links the wiring of %v; want its own only", fn.Name(), own)
		}
	}
}

// TestReadmeNamesEveryPackage: the README's table of shared/ names every package folder of each kind,
// and names no package that is not there, so the layout a new reader is shown is the tree.
func TestReadmeNamesEveryPackage(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `shared/(\\w+)/`[^|]*\\| (.*) \\|$")
	name := regexp.MustCompile("`([\\w/]+)`")
	rows := row.FindAllStringSubmatch(string(readme), -1)
	kinds, err := os.ReadDir("../shared")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(kinds) {
		t.Errorf("the README's table has %d rows; shared/ has %d folders", len(rows), len(kinds))
	}
	for _, r := range rows {
		kind, listed := r[1], map[string]bool{}
		for _, m := range name.FindAllStringSubmatch(r[2], -1) {
			listed[m[1]] = true
			if _, err := os.Stat(filepath.Join("../shared", kind, m[1])); err != nil && m[1] != kind {
				t.Errorf("the README names shared/%s/%s, which does not exist", kind, m[1])
			}
		}
		dirs, err := os.ReadDir(filepath.Join("../shared", kind))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if d.IsDir() && !listed[d.Name()] {
				t.Errorf("shared/%s/%s is not in the README's table", kind, d.Name())
			}
		}
	}
}
