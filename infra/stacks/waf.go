package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/jsii-runtime-go"
)

// The WAF and the 64 KiB body contract (DESIGN §5: bodies over 64 KiB are refused with 413
// payload_too_large).
//
// The Common rule set's SizeRestrictions_BODY blocks bodies over 8 KB with a bare 403: it refused
// requests the contract accepts, and its refusals never reached the audit trail. It only counts
// here. No WAF rule refuses a body for its size: a body over 64 KiB goes on to the function, whose
// shared/api/httpapi answers 413 payload_too_large in problem+json and writes the audit record every
// refusal gets (a WAF block would be a refusal outside the audit trail, seen only in WAF logs).
// Floods of large bodies are bounded by the WAF rate rule, the stage throttling and the functions'
// reserved concurrency; API Gateway itself refuses bodies over 10 MB.
//
// API Gateway forwards only the first 16 KB of a body to a regional web ACL by default, so the managed
// rules inspected at most a quarter of a body the contract accepts (and, for the rest, applied their
// oversize handling). WAFBodyInspectionLimit raises it to 64 KB: every accepted body is inspected
// whole. WAF charges extra only for requests whose body exceeds the default 16 KB.

// WAFBodyInspectionLimit is how much of a request body API Gateway forwards to the web ACL.
const WAFBodyInspectionLimit = "KB_64"

// WAFCountedRules are managed rules that only count: rule group → rules.
var WAFCountedRules = map[string][]string{
	"AWSManagedRulesCommonRuleSet": {"SizeRestrictions_BODY"},
}

var wafBodyInspection = &awswafv2.CfnWebACL_AssociationConfigProperty{
	RequestBody: map[string]any{
		"API_GATEWAY": &awswafv2.CfnWebACL_RequestBodyAssociatedResourceTypeConfigProperty{
			DefaultSizeInspectionLimit: jsii.String(WAFBodyInspectionLimit),
		},
	},
}

// wafOverrides are the rule action overrides of each managed rule group (WAFCountedRules).
var wafOverrides = func() map[string]any {
	out := map[string]any{}
	for group, names := range WAFCountedRules {
		var o []any
		for _, n := range names {
			o = append(o, &awswafv2.CfnWebACL_RuleActionOverrideProperty{
				Name:        jsii.String(n),
				ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{Count: map[string]any{}},
			})
		}
		out[group] = o
	}
	return out
}()
