package stacks

import (
	"fmt"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/logging"
)

// GrantedFunctionProps configures one function of the function table.
type GrantedFunctionProps struct {
	// Row is the function's row of the function table: its size, trigger and what it touches.
	Row  Function
	Data *DataStack
	// Alerts is the topic PublishAlerts grants; Failures receives the asynchronous invocations that
	// still fail after their retries.
	Alerts   awssns.Topic
	Failures awssqs.Queue
	// BuildDir holds build/<function>/bootstrap.
	BuildDir     string
	LogRetention awslogs.RetentionDays
	// StageSettings are environment variables the deployment stage decides (APIStackProps.stageSettings).
	StageSettings map[string]string
}

// GrantedFunction is one Lambda function with its encrypted log group and its own role, granted
// exactly what the row's Touches name (grant.go) and told about it in its environment.
type GrantedFunction struct {
	constructs.Construct
	Function awslambda.Function
	Role     awsiam.Role
	Logs     awslogs.LogGroup
}

// NewGrantedFunction creates a function of the function table. Like every construct of the API stack
// it adds its resources to the stack itself (see NewAPIStack): the construct id is the function's name.
func NewGrantedFunction(scope constructs.Construct, props *GrantedFunctionProps) *GrantedFunction {
	f := props.Row
	c := &GrantedFunction{Construct: constructs.NewConstruct(scope, jsii.String(f.Name))}
	stack := awscdk.Stack_Of(scope)
	d := props.Data
	id := FunctionID(f.Name)
	c.Logs = awslogs.NewLogGroup(stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     props.LogRetention,
		EncryptionKey: d.OpsKey,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// An own role with no managed policy: logs only to its own log group, and only what Touches grants.
	c.Role = awsiam.NewRole(stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Vaultbill " + f.Name + " function"),
		RoleName:    FunctionRoleName(f.Name), // named by the data stack's key and audit bucket policies (keys.go, trail.go)
	})
	g := &grants{fn: f.Name, stack: stack, data: d, alerts: props.Alerts, role: c.Role, env: map[string]*string{
		config.EnvAccount: awscdk.Aws_ACCOUNT_ID(),
		logging.EnvLevel:  jsii.String("info"),
	}}
	g.allow("WriteOwnLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []*string{c.Logs.LogGroupArn()}, nil)
	for _, p := range f.Touches {
		g.apply(p)
	}
	for k, v := range f.Settings {
		if _, ok := g.env[k]; ok {
			panic(fmt.Sprintf("function %s: setting %s is also set by a permission", f.Name, k))
		}
		g.env[k] = jsii.String(v)
	}
	for k, v := range props.StageSettings {
		g.env[k] = jsii.String(v)
	}
	fp := &awslambda.FunctionProps{
		Description:  jsii.String("Vaultbill " + f.Name),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(props.BuildDir, f.Name)), nil),
		MemorySize:   jsii.Number(f.MemoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(f.Timeout.Seconds())),
		Role:         c.Role,
		LogGroup:     c.Logs,
		Tracing:      awslambda.Tracing_ACTIVE,
		Environment:  &g.env,
		// The functions log JSON (slog); Lambda filters on its level field.
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		// AWS applies the provided.al2023 runtime's security patches as soon as they are released (Auto). The
		// bootstrap is a static Go binary (CGO_ENABLED=0) that links nothing from the image, so a runtime update
		// cannot break it; the Go release and modules inside it are patched by rebuilding (README, "Patching").
		RuntimeManagementMode: awslambda.RuntimeManagementMode_AUTO(),
	}
	if f.Reserved > 0 {
		fp.ReservedConcurrentExecutions = jsii.Number(f.Reserved)
	}
	if f.Trigger != API && f.Trigger != APIAuthorize && f.Trigger != AuditStream {
		// Scheduled (asynchronous) invocations that still fail after retries land in the failure queue.
		fp.OnFailure = awslambdadestinations.NewSqsDestination(props.Failures)
		fp.RetryAttempts = jsii.Number(2)
	}
	c.Function = awslambda.NewFunction(stack, jsii.String(id), fp)
	c.allowContinue(f)
	return c
}
