package templatetests

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// TestWAFBlocksReachTheAuditTrail: a request the web ACL blocks never reaches a function, so the web
// ACL logs its blocks (and only them, with no Authorization header) to an encrypted aws-waf-logs-*
// group, and that group's subscription invokes waf-audit, which may only append to the audit table.
func TestWAFBlocksReachTheAuditTrail(t *testing.T) {
	aclID, _ := api().byPrefix(t, "AWS::WAFv2::WebACL", stacks.WebACLID)
	_, logging := api().byPrefix(t, "AWS::WAFv2::LoggingConfiguration", "WafLogging")
	p := logging.Properties
	if got := jsonOf(p["ResourceArn"]); !strings.Contains(got, aclID) {
		t.Errorf("the logging configuration must be the web ACL's: %s", got)
	}
	if d := cmp.Diff([]any{map[string]any{"SingleHeader": map[string]any{"Name": "authorization"}}}, p["RedactedFields"]); d != "" {
		t.Errorf("redacted fields (-want +template):\n%s", d)
	}
	wantFilter := map[string]any{"DefaultBehavior": "DROP", "Filters": []any{map[string]any{
		"Behavior": "KEEP", "Requirement": "MEETS_ANY",
		"Conditions": []any{map[string]any{"ActionCondition": map[string]any{"Action": "BLOCK"}}},
	}}}
	if d := cmp.Diff(wantFilter, p["LoggingFilter"]); d != "" {
		t.Errorf("logging filter (-want +template):\n%s", d)
	}

	groupID, group := api().byPrefix(t, "AWS::Logs::LogGroup", "WafLogs")
	name := jsonOf(group.Properties["LogGroupName"])
	if !strings.Contains(name, `"aws-waf-logs-`) {
		t.Errorf("WAF logs only to groups named aws-waf-logs-*: %s", name)
	}
	if !strings.Contains(jsonOf(p["LogDestinationConfigs"]), groupID) {
		t.Errorf("the web ACL must log to %s: %s", groupID, jsonOf(p["LogDestinationConfigs"]))
	}
	if k := jsonOf(group.Properties["KmsKeyId"]); !strings.Contains(k, "OpsKey") {
		t.Errorf("the WAF log group must be encrypted with the ops key: %s", k)
	}
	if group.Properties["RetentionInDays"] == nil {
		t.Error("the WAF log group keeps its logs forever")
	}

	fnID, _ := function(t, "waf-audit")
	var subscribed bool
	for _, id := range api().ofType("AWS::Logs::SubscriptionFilter") {
		s := api().Resources[id].Properties
		if jsonOf(s["LogGroupName"]) == jsonOf(ref(groupID)) && strings.Contains(jsonOf(s["DestinationArn"]), fnID) {
			subscribed = true
			if got := s["FilterPattern"]; got != `{ $.action = "BLOCK" }` {
				t.Errorf("subscription filter pattern %v, want blocks only", got)
			}
		}
	}
	if !subscribed {
		t.Error("no subscription of the WAF log group invokes waf-audit")
	}
	var permitted bool
	for _, id := range api().ofType("AWS::Lambda::Permission") {
		s := api().Resources[id].Properties
		if strings.Contains(jsonOf(s["FunctionName"]), fnID) && s["Principal"] == "logs.amazonaws.com" {
			permitted = true
			if src := jsonOf(s["SourceArn"]); !strings.Contains(src, groupID) {
				t.Errorf("CloudWatch Logs may invoke waf-audit only for the WAF log group: %s", src)
			}
		}
	}
	if !permitted {
		t.Error("CloudWatch Logs may not invoke waf-audit")
	}

	got, _ := policyOf(t, "waf-audit")
	want := access{"AuditTable": appendAudit, "DataKey": tableKeyWrite, "OpsKey": sqsSend}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("policy of waf-audit (-allowed +granted):\n%s", d)
	}
}

// TestWAFRateRuleAnswers429: the rate rule refuses as every rate limit of the API does, and its audit
// record says rate_limited.
func TestWAFRateRuleAnswers429(t *testing.T) {
	_, acl := api().byPrefix(t, "AWS::WAFv2::WebACL", stacks.WebACLID)
	for _, r := range cfn.List(acl.Properties["Rules"]) {
		if cfn.Get(r, "Statement", "RateBasedStatement") == nil {
			continue
		}
		if code := cfn.Get(r, "Action", "Block", "CustomResponse", "ResponseCode"); code != float64(429) {
			t.Errorf("rate rule %v answers %v, want 429", cfn.Get(r, "Name"), code)
		}
		return
	}
	t.Error("no rate-based rule")
}
