package lambdaruntime

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/local/cfn"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// A two-stack app in miniature, shaped as the CDK app synthesizes it: the API stack's function
// imports the data stack's table and key, and refers to its own topic and the user pool.
const dataTemplate = `{
  "Resources": {"BillingTable": {"Type": "AWS::DynamoDB::Table"}, "VaultKey": {"Type": "AWS::KMS::Key"}},
  "Outputs": {
    "ExportsOutputRefBillingTable1319F7AD": {"Value": {"Ref": "BillingTable"}, "Export": {"Name": "vaultbill-data:ExportsOutputRefBillingTable1319F7AD"}},
    "ExportsOutputFnGetAttVaultKeyArnAF1B0336": {"Value": {"Fn::GetAtt": ["VaultKey", "Arn"]}, "Export": {"Name": "vaultbill-data:ExportsOutputFnGetAttVaultKeyArnAF1B0336"}},
    "ExportsOutputFnGetAttUserPoolProviderURL594D168B": {"Value": {"Fn::GetAtt": ["UserPool", "ProviderURL"]}, "Export": {"Name": "vaultbill-data:ExportsOutputFnGetAttUserPoolProviderURL594D168B"}}
  }
}`

const apiTemplate = `{
  "Resources": {
    "Alerts91F83244": {"Type": "AWS::SNS::Topic"},
    "AuditShipperFunction22E2B9A2": {"Type": "AWS::Lambda::Function", "Properties": {
      "MemorySize": 512, "Timeout": 120,
      "Environment": {"Variables": {
        "BILLING_TABLE": {"Fn::ImportValue": "vaultbill-data:ExportsOutputRefBillingTable1319F7AD"},
        "VAULT_KEY_ID": {"Fn::ImportValue": "vaultbill-data:ExportsOutputFnGetAttVaultKeyArnAF1B0336"},
        "AUDIT_ALERT_TOPIC_ARN": {"Ref": "Alerts91F83244"},
        "AWS_ACCOUNT_ID": {"Ref": "AWS::AccountId"},
        "JWKS_URL": {"Fn::Join": ["", [{"Fn::ImportValue": "vaultbill-data:ExportsOutputFnGetAttUserPoolProviderURL594D168B"}, "/.well-known/jwks.json"]]},
        "LOG_LEVEL": "info"
      }}
    }}
  }
}`

var local = Local{
	Names: resources.Names{Prefix: "t1-"}, Region: "us-east-1", Account: "000000000000",
	Issuer: "https://auth.local", Audience: "local", JWKSFile: "/state/jwks.json",
	Topics: map[string]string{"Alerts": "arn:aws:sns:us-east-1:000000000000:t1-alerts"},
}

func TestFunctionEnvironmentIsMappedToTheLocalStack(t *testing.T) {
	ts, err := ParseTemplates([]byte(dataTemplate), []byte(apiTemplate))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"audit-shipper"}, ts.FunctionNames()); diff != "" {
		t.Errorf("function names (-want +got):\n%s", diff)
	}
	f, err := ts.Function("audit-shipper", local)
	if err != nil {
		t.Fatal(err)
	}
	want := Function{Name: "audit-shipper", LogicalID: "AuditShipperFunction22E2B9A2", MemoryMB: 512, TimeoutSeconds: 120,
		Env: map[string]string{
			"BILLING_TABLE":         "t1-billing",
			"VAULT_KEY_ID":          "alias/t1-vault",
			"AUDIT_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:t1-alerts",
			"AWS_ACCOUNT_ID":        "000000000000",
			// The HTTPS JWKS of the user pool becomes the local key's JWKS file.
			"JWKS_FILE": "/state/jwks.json",
			"LOG_LEVEL": "info",
		}}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("function (-want +got):\n%s", diff)
	}
}

func TestAReferenceWithoutLocalCounterpartFails(t *testing.T) {
	api := strings.Replace(apiTemplate, `"LOG_LEVEL": "info"`, `"QUEUE": {"Ref": "FailuresQueue1234ABCD"}`, 1)
	ts, err := ParseTemplates([]byte(dataTemplate), []byte(api))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Function("audit-shipper", local)
	if err == nil || !strings.Contains(err.Error(), "audit-shipper") || !strings.Contains(err.Error(), "QUEUE") || !strings.Contains(err.Error(), "FailuresQueue1234ABCD") {
		t.Fatalf("got %v, want an error naming the function, the variable and the reference", err)
	}
	if _, err := ts.Function("payments", local); err == nil {
		t.Fatal("a function the template lacks was found")
	}
}

func TestColdStartErrorNamesTheMissingVariables(t *testing.T) {
	log := "29 Nov 2026 01:47:38,771 [INFO] (rapid) INIT START(type: on-demand, phase: init)\n" +
		`{"time":"2026-11-29T01:47:38.776Z","level":"ERROR","msg":"cold start failed","error":"missing configuration: set BILLING_TABLE, VAULT_TABLE in the function's environment"}` + "\n" +
		"29 Nov 2026 01:47:38,810 [WARNING] (rapid) First fatal error stored in appctx: Runtime.ExitError\n"
	e := coldStartError("tokens", log)
	if diff := cmp.Diff([]string{"BILLING_TABLE", "VAULT_TABLE"}, e.Missing); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	if msg := e.Error(); !strings.Contains(msg, "function tokens") || !strings.Contains(msg, "BILLING_TABLE, VAULT_TABLE") {
		t.Errorf("message %q does not name the function and the variables", msg)
	}
	e = coldStartError("me", "panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\n")
	if !strings.Contains(e.Error(), "panic: assignment to entry in nil map") {
		t.Errorf("panic at init: %q", e.Error())
	}
}

// TestFunctionsDoNotLinkTheWorkstationChain: a linked package's init runs at every cold start, so no
// function may link the SDK's shared-config chain (the CLI's and the local stack's credentials).
func TestFunctionsDoNotLinkTheWorkstationChain(t *testing.T) {
	out, err := exec.CommandContext(context.Background(), "go", "list", "-deps", "-tags", "lambda.norpc", "../../../../functions/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch pkg {
		case "github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/sso",
			"github.com/aws/aws-sdk-go-v2/service/sts", "github.com/vaultbill/vaultbill/shared/adapters/awsconfig/workstation":
			t.Errorf("a function links %s", pkg)
		}
	}
}

func TestSAMEnvAndTemplate(t *testing.T) {
	ts, err := ParseTemplates([]byte(dataTemplate), []byte(apiTemplate))
	if err != nil {
		t.Fatal(err)
	}
	l := local
	l.Endpoint = "http://host.docker.internal:4566"
	env, err := ts.SAMEnv(l)
	if err != nil {
		t.Fatal(err)
	}
	got := env["AuditShipperFunction22E2B9A2"]
	if got["AWS_ENDPOINT_URL"] != l.Endpoint || got["BILLING_TABLE"] != "t1-billing" {
		t.Errorf("sam env of the shipper: %v", got)
	}

	api := strings.Replace(apiTemplate, `"Properties": {`, `"Metadata": {"aws:asset:path": "asset.abc"}, "Properties": {`, 1)
	sam, err := SAMTemplate([]byte(api), "/repo/infra/cdk.out")
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTemplates([]byte(dataTemplate), sam)
	if err != nil {
		t.Fatal(err)
	}
	vars, _ := cfn.Get(back[1].Resources["AuditShipperFunction22E2B9A2"].Properties, "Environment", "Variables").(map[string]any)
	if v, ok := vars["AWS_ENDPOINT_URL"]; !ok || v != "" || len(vars) != 7 {
		t.Errorf("SAM template variables: %v, want the original six and an empty AWS_ENDPOINT_URL", vars)
	}
	if !strings.Contains(string(sam), `"aws:asset:path": "/repo/infra/cdk.out/asset.abc"`) {
		t.Errorf("asset path not made absolute:\n%s", sam)
	}
}
