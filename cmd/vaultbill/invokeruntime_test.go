package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// The me function as the CDK app synthesizes it, in miniature: its table names imported from the
// data stack.
const (
	testDataTemplate = `{"Resources": {}, "Outputs": {
  "A": {"Value": {"Ref": "AuditTable"}, "Export": {"Name": "vaultbill-data:ExportsOutputRefAuditTable4BE33DA9"}},
  "B": {"Value": {"Ref": "BillingTable"}, "Export": {"Name": "vaultbill-data:ExportsOutputRefBillingTable1319F7AD"}}}}`
	testAPITemplate = `{"Resources": {"MeFunction4482FBE1": {"Type": "AWS::Lambda::Function", "Properties": {
  "MemorySize": 256, "Timeout": 10, "Environment": {"Variables": {
    "AUDIT_TABLE": {"Fn::ImportValue": "vaultbill-data:ExportsOutputRefAuditTable4BE33DA9"},
    "BILLING_TABLE": {"Fn::ImportValue": "vaultbill-data:ExportsOutputRefBillingTable1319F7AD"},
    "AWS_ACCOUNT_ID": {"Ref": "AWS::AccountId"}, "LOG_LEVEL": "info"}}}}}}`
)

func writeTestTemplates(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, doc := range map[string]string{"VaultbillData.template.json": testDataTemplate, "VaultbillApi.template.json": testAPITemplate} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestInvokeOnTheRuntime runs the me function's own bootstrap under the runtime interface emulator,
// as `vaultbill invoke me --event ... --runtime` users do.
func TestInvokeOnTheRuntime(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", stacktest.Endpoint(t))
	t.Setenv("VAULTBILL_STATE", t.TempDir())
	var out bytes.Buffer
	err := invoke(context.Background(), []string{"me", "--event", "../../events/me/get-me.json", "--runtime", "--template", writeTestTemplates(t)}, &out)
	if err != nil {
		t.Fatalf("invoke me --runtime: %v", err)
	}
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"principal":"billing-user"`) {
		t.Fatalf("me response: %s", out.String())
	}
}

func TestSAMEnv(t *testing.T) {
	t.Setenv("VAULTBILL_STATE", t.TempDir())
	out := filepath.Join(t.TempDir(), "sam-env.json")
	if err := runSAMEnv(context.Background(), []string{"-o", out, "-template", writeTestTemplates(t), "-endpoint", "http://host.docker.internal:4566"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	me := env["MeFunction4482FBE1"]
	if me["BILLING_TABLE"] != "vaultbill-billing" || me["AUDIT_TABLE"] != "vaultbill-audit" || me["AWS_ENDPOINT_URL"] != "http://host.docker.internal:4566" {
		t.Errorf("sam env of me: %v", me)
	}
	sam, err := os.ReadFile(filepath.Join(filepath.Dir(out), "sam", "VaultbillApi.template.json"))
	if err != nil || !strings.Contains(string(sam), `"AWS_ENDPOINT_URL": ""`) {
		t.Errorf("SAM template: %v\n%s", err, sam)
	}
}
