// Package templatetests checks the CloudFormation that the CDK app synthesizes: every protection the
// security review relies on is asserted here, so removing one fails a test.
package templatetests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// The app is synthesized once per test binary; every test reads these.
var (
	outdir   string
	built    stacks.Stacks
	assembly cxapi.CloudAssembly
	// tmpl holds each stack's assertions.Template, doc its template as plain JSON.
	tmpl = map[string]assertions.Template{}
	doc  = map[string]template{}
)

const (
	testAccount = "111111111111"
	testRegion  = "eu-west-1"
	testOffsite = "eu-central-1"
)

func TestMain(m *testing.M) {
	for k, v := range map[string]string{
		"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION":  "1",
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20,22",
	} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	code, err := synth(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "template tests:", err)
		code = 1
	}
	jsii.Close()
	os.RemoveAll(outdir)
	os.Exit(code)
}

func synth(m *testing.M) (int, error) {
	var err error
	if outdir, err = os.MkdirTemp("", "vaultbill-cdk-"); err != nil {
		return 1, err
	}
	// The templates do not depend on the binaries, only on their presence: placeholder bootstraps in a
	// temporary folder let the tests run on a fresh clone without building anything.
	buildDir := filepath.Join(outdir, "build")
	for _, f := range stacks.Functions {
		if err := os.MkdirAll(filepath.Join(buildDir, f.Name), 0o755); err != nil {
			return 1, err
		}
		if err := os.WriteFile(filepath.Join(buildDir, f.Name, "bootstrap"), []byte("placeholder "+f.Name), 0o755); err != nil {
			return 1, err
		}
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(outdir, "cdk.out")), Context: stacks.FeatureFlags()})
	built, err = stacks.Build(app, stacks.AppProps{
		Account: testAccount, Region: testRegion, OffsiteRegion: testOffsite, BuildDir: buildDir,
		Stage: stacks.StageTest, // the sandbox processor; keys_test.go checks a production stage refuses it
	})
	if err != nil {
		return 1, err
	}
	assembly = app.Synth(nil)
	for name, st := range map[string]awscdk.Stack{
		stacks.DataStackName: built.Data.Stack, stacks.APIStackName: built.API.Stack, stacks.OffsiteStackName: built.Offsite.Stack,
	} {
		tmpl[name] = assertions.Template_FromStack(st, nil)
		b, err := json.Marshal(tmpl[name].ToJSON())
		if err != nil {
			return 1, err
		}
		var t template
		if err := json.Unmarshal(b, &t); err != nil {
			return 1, err
		}
		doc[name] = t
	}
	return m.Run(), nil
}

// template is one synthesized stack's template; resource one of its resources.
type template cfn.Template

type resource = cfn.Resource

// ofType returns the logical IDs of a template's resources of one type, sorted.
func (t template) ofType(typ string) []string { return cfn.Template(t).OfType(typ) }

// byPrefix finds the one resource of a type whose logical ID starts with prefix (CDK appends a hash).
func (t template) byPrefix(tb testing.TB, typ, prefix string) (string, resource) {
	tb.Helper()
	var found []string
	for _, id := range t.ofType(typ) {
		if strings.HasPrefix(id, prefix) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("want one %s with logical ID prefix %q, found %v", typ, prefix, found)
	}
	return found[0], t.Resources[found[0]]
}

// jsonOf renders any template value as compact JSON, for substring checks on references.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

// exportHash is the hash CDK appends to logical IDs and export names.
var exportHash = regexp.MustCompile(`[0-9A-F]{8}$`)

// render turns a template value into readable text the way cdk-nag prints it: references become
// <Name> (logical IDs and export names without their hash, pseudo parameters as they are), and
// Fn::Join is joined. Anything else keeps its JSON shape, with its parts rendered.
func render(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				switch k {
				case "Ref":
					return "<" + exportHash.ReplaceAllString(arg.(string), "") + ">"
				case "Fn::GetAtt":
					a := arg.([]any)
					return "<" + exportHash.ReplaceAllString(a[0].(string), "") + "." + a[1].(string) + ">"
				case "Fn::ImportValue":
					name := arg.(string)
					name = name[strings.Index(name, "ExportsOutput")+len("ExportsOutput"):]
					name = strings.TrimPrefix(strings.TrimPrefix(name, "FnGetAtt"), "Ref")
					return "<" + exportHash.ReplaceAllString(name, "") + ">"
				case "Fn::Join":
					a := arg.([]any)
					var b strings.Builder
					for i, p := range a[1].([]any) {
						if i > 0 {
							b.WriteString(a[0].(string))
						}
						s, ok := render(p).(string)
						if !ok {
							return x
						}
						b.WriteString(s)
					}
					return b.String()
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = render(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = render(e)
		}
		return out
	}
	return v
}

// text renders a template value to one line (see render).
func text(v any) string {
	r := render(v)
	if s, ok := r.(string); ok {
		return s
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r)
	return strings.TrimSpace(b.String())
}
