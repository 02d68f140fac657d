package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// APIStackProps configures the stateless stack.
type APIStackProps struct {
	awscdk.StackProps
	Data *DataStack
	// BuildDir holds build/<function>/bootstrap for every row of Functions.
	BuildDir string
	// LogRetention applies to function, access, execution and WAF logs (PCI DSS 10.5.1: a year).
	LogRetention awslogs.RetentionDays
	// StageName is the deployed stage; the routes themselves carry /v1.
	StageName string
	// ThrottleRate and ThrottleBurst are the stage's default method throttling.
	ThrottleRate, ThrottleBurst float64
	// AuthorizerCacheSeconds caches an authorizer decision per Authorization header. Keep it 0: with
	// a cache, API Gateway answers a request without the header itself and replays a cached Deny, and
	// neither leaves an audit record (PCI DSS 10.2.1.4).
	AuthorizerCacheSeconds float64
	// RateLimitPer5Min is the WAF rate-based rule's limit of requests per client IP per 5 minutes.
	RateLimitPer5Min float64
	// DenialAlarmThreshold raises an alarm when the authorizer refuses this many requests in 5 minutes.
	DenialAlarmThreshold float64
	// AlarmEmail, if set, subscribes an address to the alerts topic.
	AlarmEmail string
	// DomainName and CertificateARN, if both set, put the API behind a custom domain (TLS 1.2
	// minimum) and turn off the default execute-api endpoint.
	DomainName, CertificateARN string
	// Stage (StageTest or StageProduction) and PaymentProcessor configure the payments function;
	// Build refuses the sandbox processor outside a test stage.
	Stage, PaymentProcessor string
}

// APIStack holds the functions, the REST API, its authorizer, WAF, alarms and schedules.
type APIStack struct {
	awscdk.Stack
	Functions map[string]awslambda.Function
	API       awsapigateway.RestApi
	Alerts    awssns.Topic
	Failures  awssqs.Queue
	WebACL    awswafv2.CfnWebACL
	// WAFLogs is the web ACL's log group: blocked requests only, subscribed by waf-audit.
	WAFLogs awslogs.LogGroup
}

// Construct ids the template tests look for.
const (
	RestAPIID      = "Api"
	AuthorizerID   = "TokenAuthorizer"
	WebACLID       = "WebAcl"
	AlertsTopicID  = "Alerts"
	FailureQueueID = "Failures"
)

// FunctionID is the construct id of a function ("audit-shipper" → "AuditShipperFunction").
func FunctionID(name string) string { return LogicalID(name, "Function") }

// NewAPIStack creates the stateless stack: the failure queue and alerts topic the constructs share,
// then one GrantedFunction per row of the function table, the RestAPI, its WebACL, the Triggers and
// the Alarms.
//
// Each construct adds its resources to the stack itself, beside its own node, not under it: CDK
// derives a resource's logical ID from its construct path, so nesting them would give every
// function, role, log group, API resource and alarm a new logical ID, and CloudFormation would
// replace them all on the next deploy (the roles and the WAF log group have fixed names, so the
// replacement would fail; the retained log groups would be orphaned). The template tests and the
// cdk-nag suppressions name these resources by their top-level paths too.
func NewAPIStack(scope constructs.Construct, id string, props *APIStackProps) *APIStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	a := &APIStack{Stack: stack, Functions: map[string]awslambda.Function{}}
	d := props.Data

	a.Failures = awssqs.NewQueue(stack, jsii.String(FailureQueueID), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: d.OpsKey,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
	})
	a.Alerts = awssns.NewTopic(stack, jsii.String(AlertsTopicID), &awssns.TopicProps{
		MasterKey:  d.OpsKey,
		EnforceSSL: jsii.Bool(true),
	})
	if props.AlarmEmail != "" {
		a.Alerts.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.AlarmEmail), nil))
	}

	for _, f := range Functions {
		a.Functions[f.Name] = NewGrantedFunction(stack, &GrantedFunctionProps{
			Row: f, Data: d, Alerts: a.Alerts, Failures: a.Failures,
			BuildDir: props.BuildDir, LogRetention: props.LogRetention, StageSettings: props.stageSettings(f.Name),
		}).Function
	}
	a.API = NewRestAPI(stack, &RestAPIProps{
		Data: d, LogRetention: props.LogRetention, StageName: props.StageName,
		ThrottleRate: props.ThrottleRate, ThrottleBurst: props.ThrottleBurst,
		AuthorizerCacheSeconds: props.AuthorizerCacheSeconds,
		DomainName:             props.DomainName, CertificateARN: props.CertificateARN,
		Functions: a.Functions,
	}).API
	waf := NewWebACL(stack, &WebACLProps{
		Data: d, Stage: a.API.DeploymentStage(), LogRetention: props.LogRetention, RateLimitPer5Min: props.RateLimitPer5Min,
	})
	a.WebACL, a.WAFLogs = waf.ACL, waf.Logs
	NewTriggers(stack, &TriggersProps{Data: d, Functions: a.Functions, Failures: a.Failures, WAFLogs: a.WAFLogs})
	NewAlarms(stack, &AlarmsProps{
		Alerts: a.Alerts, API: a.API, Functions: a.Functions, Failures: a.Failures,
		DenialAlarmThreshold: props.DenialAlarmThreshold,
	})
	return a
}
