package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// WebACL is the regional web ACL in front of the API's stage: the AWS managed rule groups (waf.go),
// a per-IP rate limit, and a log group of the requests it blocked.
type WebACL struct {
	constructs.Construct
	ACL awswafv2.CfnWebACL
	// Logs is the web ACL's log group: blocked requests only, subscribed by waf-audit.
	Logs awslogs.LogGroup
}

// WebACLProps configures the web ACL.
type WebACLProps struct {
	Data *DataStack
	// Stage is the API stage the web ACL protects.
	Stage awsapigateway.Stage
	// LogRetention and RateLimitPer5Min mean what APIStackProps' fields of the same names do.
	LogRetention     awslogs.RetentionDays
	RateLimitPer5Min float64
}

// NewWebACL creates the web ACL (construct id "Waf"; its resources are the stack's, see NewAPIStack).
func NewWebACL(scope constructs.Construct, props *WebACLProps) *WebACL {
	c := &WebACL{Construct: constructs.NewConstruct(scope, jsii.String("Waf"))}
	stack := awscdk.Stack_Of(scope)
	visibility := func(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true), MetricName: jsii.String(name), SampledRequestsEnabled: jsii.Bool(true),
		}
	}
	var rules []any
	for i, group := range []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet"} {
		rules = append(rules, &awswafv2.CfnWebACL_RuleProperty{
			Name:           jsii.String(group),
			Priority:       jsii.Number(i),
			OverrideAction: &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
			Statement: &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{
				VendorName: jsii.String("AWS"), Name: jsii.String(group), RuleActionOverrides: wafOverrides[group],
			}},
			VisibilityConfig: visibility(group),
		})
	}
	rules = append(rules, &awswafv2.CfnWebACL_RuleProperty{
		Name:     jsii.String("RateLimitPerIP"),
		Priority: jsii.Number(len(rules)),
		// 429, as every other rate limit of the API answers (its audit record says rate_limited).
		Action: &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{
			CustomResponse: &awswafv2.CfnWebACL_CustomResponseProperty{ResponseCode: jsii.Number(429)},
		}},
		Statement: &awswafv2.CfnWebACL_StatementProperty{RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
			Limit: jsii.Number(props.RateLimitPer5Min), AggregateKeyType: jsii.String("IP"),
		}},
		VisibilityConfig: visibility("RateLimitPerIP"),
	})
	acl := awswafv2.NewCfnWebACL(stack, jsii.String(WebACLID), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("REGIONAL"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: map[string]any{}},
		VisibilityConfig: visibility("VaultbillApi"),
		Rules:            &rules,
	})
	acl.SetAssociationConfig(wafBodyInspection) // the whole of a 64 KiB body is inspected (waf.go)
	c.ACL = acl
	awswafv2.NewCfnWebACLAssociation(stack, jsii.String("WebAclAssociation"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: props.Stage.StageArn(),
		WebAclArn:   acl.AttrArn(),
	})
	// WAF only logs to groups named aws-waf-logs-*; the Authorization header is redacted (it is a JWT).
	// Only blocks are logged: they are the refusals no function sees, and waf-audit turns each into an
	// audit record (allowed requests are audited by the functions; the counted body-size rule's large
	// bodies are refused and audited by them too).
	wafLogs := awslogs.NewLogGroup(stack, jsii.String("WafLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("aws-waf-logs-" + *stack.StackName()),
		Retention:     props.LogRetention,
		EncryptionKey: props.Data.OpsKey,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	awswafv2.NewCfnLoggingConfiguration(stack, jsii.String("WafLogging"), &awswafv2.CfnLoggingConfigurationProps{
		ResourceArn: acl.AttrArn(),
		LogDestinationConfigs: &[]any{stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("logs"), Resource: jsii.String("log-group"), ResourceName: wafLogs.LogGroupName(),
			ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		})},
		RedactedFields: &[]any{&awswafv2.CfnLoggingConfiguration_FieldToMatchProperty{
			SingleHeader: map[string]any{"Name": "authorization"},
		}},
		LoggingFilter: map[string]any{
			"DefaultBehavior": "DROP",
			"Filters": []any{map[string]any{
				"Behavior": "KEEP", "Requirement": "MEETS_ANY",
				"Conditions": []any{map[string]any{"ActionCondition": map[string]any{"Action": "BLOCK"}}},
			}},
		},
	})
	c.Logs = wafLogs
	return c
}
