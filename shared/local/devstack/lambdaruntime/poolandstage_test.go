package lambdaruntime

import (
	"strings"
	"testing"
)

// The user pool's id and a stage's URL, shaped as the CDK app synthesizes them: the data stack
// exports the pool, the API stack joins its REST API's URL (RestApi.urlForPath).
const (
	poolDataTemplate = `{
  "Resources": {"UserPool": {"Type": "AWS::Cognito::UserPool"}},
  "Outputs": {
    "ExportsOutputRefUserPool19CF3AE1": {"Value": {"Ref": "UserPool"}, "Export": {"Name": "vaultbill-data:ExportsOutputRefUserPool19CF3AE1"}}
  }
}`
	stageAPITemplate = `{
  "Resources": {
    "ApiF70053CD": {"Type": "AWS::ApiGateway::RestApi"},
    "ApiDeploymentStagelive43C16EA7": {"Type": "AWS::ApiGateway::Stage"},
    "UsersFunction1976AE51": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {
      "USER_POOL_ID": {"Fn::ImportValue": "vaultbill-data:ExportsOutputRefUserPool19CF3AE1"}
    }}}},
    "PageCheckFunction99773F3B": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {
      "PAGE_CHECK_URL": {"Fn::Join": ["", ["https://", {"Ref": "ApiF70053CD"}, ".execute-api.eu-west-1.", {"Ref": "AWS::URLSuffix"}, "/", {"Ref": "ApiDeploymentStagelive43C16EA7"}, "/pay/page-check"]]}
    }}}}
  }
}`
)

func TestUserPoolAndStageURLAreMappedToTheLocalStack(t *testing.T) {
	ts, err := ParseTemplates([]byte(poolDataTemplate), []byte(stageAPITemplate))
	if err != nil {
		t.Fatal(err)
	}
	l := local
	l.UserPoolID, l.URL = "us-east-1_abc", "http://127.0.0.1:4000/"
	users, err := ts.Function("users", l)
	if err != nil {
		t.Fatal(err)
	}
	if got := users.Env["USER_POOL_ID"]; got != "us-east-1_abc" {
		t.Errorf("USER_POOL_ID = %q, want the local pool's id", got)
	}
	check, err := ts.Function("page-check", l)
	if err != nil {
		t.Fatal(err)
	}
	// The local gateway has no stage: its routes carry the same paths under its own URL.
	if got := check.Env["PAGE_CHECK_URL"]; got != "http://127.0.0.1:4000/pay/page-check" {
		t.Errorf("PAGE_CHECK_URL = %q, want the local gateway's URL of the page", got)
	}
}

// A stack without a pool or without HTTP has no counterpart: the mapping fails rather than guess.
func TestUserPoolAndStageURLWithoutLocalCounterpartFail(t *testing.T) {
	ts, err := ParseTemplates([]byte(poolDataTemplate), []byte(stageAPITemplate))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Function("users", local); err == nil || !strings.Contains(err.Error(), "UserPool") {
		t.Errorf("users without a local pool: %v, want an error naming UserPool", err)
	}
	if _, err := ts.Function("page-check", local); err == nil || !strings.Contains(err.Error(), "PAGE_CHECK_URL") {
		t.Errorf("page-check without a local URL: %v, want an error naming PAGE_CHECK_URL", err)
	}
	// The REST API's id alone (not a stage URL) has no local counterpart either.
	api := strings.Replace(stageAPITemplate, `"PAGE_CHECK_URL": {"Fn::Join"`, `"API_ID": {"Ref": "ApiF70053CD"}, "X": {"Fn::Join"`, 1)
	ts, err = ParseTemplates([]byte(poolDataTemplate), []byte(api))
	if err != nil {
		t.Fatal(err)
	}
	l := local
	l.URL = "http://127.0.0.1:4000"
	if _, err := ts.Function("page-check", l); err == nil || !strings.Contains(err.Error(), "ApiF70053CD") {
		t.Errorf("a bare REST API reference: %v, want an error naming ApiF70053CD", err)
	}
}
