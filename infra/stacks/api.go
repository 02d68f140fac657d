package stacks

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogsdestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/gateway"
	"github.com/vaultbill/vaultbill/shared/ops/auditreview"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
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
	data    *DataStack
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

// NewAPIStack creates the stateless stack.
func NewAPIStack(scope constructs.Construct, id string, props *APIStackProps) *APIStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	a := &APIStack{Stack: stack, Functions: map[string]awslambda.Function{}, data: props.Data}
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
		a.Functions[f.Name] = a.newFunction(f, props)
		a.allowContinue(f)
	}
	a.newRestAPI(props)
	a.newWebACL(props)
	a.newTriggers()
	a.newAlarms(props)
	return a
}

func (a *APIStack) newFunction(f Function, props *APIStackProps) awslambda.Function {
	d := props.Data
	id := FunctionID(f.Name)
	logs := awslogs.NewLogGroup(a.Stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     props.LogRetention,
		EncryptionKey: d.OpsKey,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// An own role with no managed policy: logs only to its own log group, and only what Touches grants.
	role := awsiam.NewRole(a.Stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Vaultbill " + f.Name + " function"),
		RoleName:    FunctionRoleName(f.Name), // named by the data stack's key and audit bucket policies (keys.go, trail.go)
	})
	g := &grants{fn: f.Name, stack: a.Stack, data: d, alerts: a.Alerts, role: role, env: map[string]*string{
		config.EnvAccount: awscdk.Aws_ACCOUNT_ID(),
		"LOG_LEVEL":       jsii.String("info"),
	}}
	g.allow("WriteOwnLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []*string{logs.LogGroupArn()}, nil)
	for _, p := range f.Touches {
		g.apply(p)
	}
	for k, v := range f.Settings {
		if _, ok := g.env[k]; ok {
			panic(fmt.Sprintf("function %s: setting %s is also set by a permission", f.Name, k))
		}
		g.env[k] = jsii.String(v)
	}
	for k, v := range props.stageSettings(f.Name) {
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
		Role:         role,
		LogGroup:     logs,
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
		fp.OnFailure = awslambdadestinations.NewSqsDestination(a.Failures)
		fp.RetryAttempts = jsii.Number(2)
	}
	return awslambda.NewFunction(a.Stack, jsii.String(id), fp)
}

// linkRouteOptions turns execution logging off for the hosted page's routes. Their path holds the
// link, a bearer secret for the invoice, and execution logs at INFO print the request path; the access
// log names the route template (resourcePath), never the path.
func linkRouteOptions(props *APIStackProps) *map[string]*awsapigateway.MethodDeploymentOptions {
	out := map[string]*awsapigateway.MethodDeploymentOptions{}
	for _, r := range routes.All {
		if r.CapabilityChecked() {
			out[r.Path+"/"+r.Method] = &awsapigateway.MethodDeploymentOptions{
				LoggingLevel: awsapigateway.MethodLoggingLevel_OFF, DataTraceEnabled: jsii.Bool(false),
				MetricsEnabled:      jsii.Bool(true),
				ThrottlingRateLimit: jsii.Number(props.ThrottleRate), ThrottlingBurstLimit: jsii.Number(props.ThrottleBurst),
			}
		}
	}
	return &out
}

func (a *APIStack) newRestAPI(props *APIStackProps) {
	d := props.Data
	accessLogs := awslogs.NewLogGroup(a.Stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: props.LogRetention, EncryptionKey: d.OpsKey, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	customDomain := props.DomainName != "" && props.CertificateARN != ""
	apiProps := &awsapigateway.RestApiProps{
		Description:               jsii.String("Vaultbill HTTP API v1"),
		EndpointTypes:             &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole:            jsii.Bool(true),
		DisableExecuteApiEndpoint: jsii.Bool(customDomain),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(props.StageName),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
				Caller: jsii.Bool(true), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true), Protocol: jsii.Bool(true),
				RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true), ResponseLength: jsii.Bool(true),
				Status: jsii.Bool(true), User: jsii.Bool(true),
			}),
			LoggingLevel: awsapigateway.MethodLoggingLevel_INFO,
			// Full request/response logging would write card numbers and tokens to the logs: never on.
			DataTraceEnabled:     jsii.Bool(false),
			MetricsEnabled:       jsii.Bool(true),
			TracingEnabled:       jsii.Bool(true),
			ThrottlingRateLimit:  jsii.Number(props.ThrottleRate),
			ThrottlingBurstLimit: jsii.Number(props.ThrottleBurst),
			MethodOptions:        linkRouteOptions(props),
		},
	}
	if customDomain {
		apiProps.DomainName = &awsapigateway.DomainNameOptions{
			DomainName:     jsii.String(props.DomainName),
			Certificate:    awscertificatemanager.Certificate_FromCertificateArn(a.Stack, jsii.String("Certificate"), jsii.String(props.CertificateARN)),
			SecurityPolicy: awsapigateway.SecurityPolicy_TLS_1_2,
			EndpointType:   awsapigateway.EndpointType_REGIONAL,
		}
	}
	api := awsapigateway.NewRestApi(a.Stack, jsii.String(RestAPIID), apiProps)
	a.API = api
	// API Gateway creates the execution log group on first use, unencrypted and kept forever; creating
	// it here gives it the key and the retention.
	awslogs.NewLogGroup(a.Stack, jsii.String("ApiExecutionLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("API-Gateway-Execution-Logs_" + *api.RestApiId() + "/" + props.StageName),
		Retention:     props.LogRetention,
		EncryptionKey: d.OpsKey,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	// Without a cache there is no identity source: the authorizer sees every request, a missing
	// Authorization header included, and audits each refusal, as the local gateway does.
	identity := []*string{}
	if props.AuthorizerCacheSeconds > 0 {
		identity = append(identity, awsapigateway.IdentitySource_Header(jsii.String("Authorization")))
	}
	authorizer := awsapigateway.NewRequestAuthorizer(a.Stack, jsii.String(AuthorizerID), &awsapigateway.RequestAuthorizerProps{
		Handler:         a.Functions["authorizer"],
		IdentitySources: &identity,
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(props.AuthorizerCacheSeconds)),
	})
	validator := api.AddRequestValidator(jsii.String("Validator"), &awsapigateway.RequestValidatorOptions{
		ValidateRequestBody: jsii.Bool(true), ValidateRequestParameters: jsii.Bool(true),
	})
	// The functions validate each body field; the edge only insists on a JSON object.
	object := api.AddModel(jsii.String("JSONObject"), &awsapigateway.ModelOptions{
		ContentType: jsii.String("application/json"),
		Schema: &awsapigateway.JsonSchema{
			Schema: awsapigateway.JsonSchemaVersion_DRAFT4,
			Title:  jsii.String("JSONObject"),
			Type:   awsapigateway.JsonSchemaType_OBJECT,
		},
	})
	a.pageCheckURL(api)
	integrations := map[string]awsapigateway.LambdaIntegration{}
	for _, r := range routes.All {
		fn, ok := a.Functions[r.Function]
		if !ok {
			panic(fmt.Sprintf("route %s: function %q is not in the function table", r.Key(), r.Function))
		}
		if integrations[r.Function] == nil {
			integrations[r.Function] = awsapigateway.NewLambdaIntegration(fn, &awsapigateway.LambdaIntegrationOptions{
				AllowTestInvoke: jsii.Bool(false),
			})
		}
		opts := &awsapigateway.MethodOptions{
			AuthorizationType: awsapigateway.AuthorizationType_CUSTOM,
			Authorizer:        authorizer,
			RequestValidator:  validator,
			OperationName:     jsii.String(r.Operation),
		}
		if r.CapabilityChecked() {
			// The hosted invoice page: its visitor holds a link, not a token; the function that serves
			// the route checks the link (the capability in the path) and audits the request.
			opts.AuthorizationType, opts.Authorizer = awsapigateway.AuthorizationType_NONE, nil
		}
		params := map[string]*bool{}
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				params["method.request.path."+strings.Trim(seg, "{}")] = jsii.Bool(true)
			}
		}
		if len(params) > 0 {
			opts.RequestParameters = &params
		}
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			opts.RequestModels = &map[string]awsapigateway.IModel{"application/json": object}
		}
		api.Root().ResourceForPath(jsii.String(r.Path)).AddMethod(jsii.String(r.Method), integrations[r.Function], opts)
	}

	// The same bodies the local gateway serves (shared/local/gateway), with API Gateway's variables in them.
	headers := &map[string]*string{"Content-Type": jsii.String("'" + gateway.ProblemContentType + "'")}
	api.AddGatewayResponse(jsii.String("Unauthorized"), &awsapigateway.GatewayResponseOptions{
		Type:            awsapigateway.ResponseType_UNAUTHORIZED(),
		StatusCode:      jsii.String("401"),
		ResponseHeaders: headers,
		Templates:       &map[string]*string{"application/json": jsii.String(gateway.UnauthorizedTemplate())},
	})
	api.AddGatewayResponse(jsii.String("AccessDenied"), &awsapigateway.GatewayResponseOptions{
		Type:            awsapigateway.ResponseType_ACCESS_DENIED(),
		StatusCode:      jsii.String("403"),
		ResponseHeaders: headers,
		Templates:       &map[string]*string{"application/json": jsii.String(gateway.AccessDeniedTemplate())},
	})
}

func (a *APIStack) newWebACL(props *APIStackProps) {
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
	acl := awswafv2.NewCfnWebACL(a.Stack, jsii.String(WebACLID), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("REGIONAL"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: map[string]any{}},
		VisibilityConfig: visibility("VaultbillApi"),
		Rules:            &rules,
	})
	acl.SetAssociationConfig(wafBodyInspection) // the whole of a 64 KiB body is inspected (waf.go)
	a.WebACL = acl
	awswafv2.NewCfnWebACLAssociation(a.Stack, jsii.String("WebAclAssociation"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: a.API.DeploymentStage().StageArn(),
		WebAclArn:   acl.AttrArn(),
	})
	// WAF only logs to groups named aws-waf-logs-*; the Authorization header is redacted (it is a JWT).
	// Only blocks are logged: they are the refusals no function sees, and waf-audit turns each into an
	// audit record (allowed requests are audited by the functions; the counted body-size rule's large
	// bodies are refused and audited by them too).
	wafLogs := awslogs.NewLogGroup(a.Stack, jsii.String("WafLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("aws-waf-logs-" + *a.Stack.StackName()),
		Retention:     props.LogRetention,
		EncryptionKey: props.Data.OpsKey,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	awswafv2.NewCfnLoggingConfiguration(a.Stack, jsii.String("WafLogging"), &awswafv2.CfnLoggingConfigurationProps{
		ResourceArn: acl.AttrArn(),
		LogDestinationConfigs: &[]any{a.Stack.FormatArn(&awscdk.ArnComponents{
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
	a.WAFLogs = wafLogs
}

// schedule is when a scheduled function runs (UTC).
func schedule(t Trigger) awsevents.Schedule {
	switch t {
	case Hourly:
		return awsevents.Schedule_Rate(awscdk.Duration_Hours(jsii.Number(1)))
	case Daily:
		return awsevents.Schedule_Cron(&awsevents.CronOptions{Hour: jsii.String("3"), Minute: jsii.String("0")})
	case Weekly:
		// Two hours after the daily backup, so the restore test restores that morning's backup.
		return awsevents.Schedule_Cron(&awsevents.CronOptions{WeekDay: jsii.String("SUN"), Hour: jsii.String("5"), Minute: jsii.String("0")})
	}
	panic(fmt.Sprintf("trigger %q is not a schedule", t))
}

func (a *APIStack) newTriggers() {
	for _, f := range Functions {
		fn := a.Functions[f.Name]
		switch f.Trigger {
		case AuditStream:
			// Large batches gathered for up to a minute make few, large log files (shared/ops/audittrail
			// writes one file per batch where the size limits allow). The shipper answers with partial
			// batch responses; records that still fail after the retries go to the failure queue.
			fn.AddEventSource(awslambdaeventsources.NewDynamoEventSource(a.data.Tables[resources.Audit.ID], &awslambdaeventsources.DynamoEventSourceProps{
				StartingPosition:        awslambda.StartingPosition_TRIM_HORIZON,
				BatchSize:               jsii.Number(ShipperBatchSize),
				MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(ShipperBatchingWindow.Seconds())),
				BisectBatchOnError:      jsii.Bool(true),
				ReportBatchItemFailures: jsii.Bool(true),
				RetryAttempts:           jsii.Number(10),
				MaxRecordAge:            auditStreamMaxRecordAge(), // then the digest's reconciliation ships them
				OnFailure:               awslambdaeventsources.NewSqsDlq(a.Failures),
				// TTL expiry of outbox items (REMOVE) is not shipped; MODIFY is, to alert on tampering.
				Filters: &[]*map[string]any{awslambda.FilterCriteria_Filter(&map[string]any{
					"eventName": awslambda.FilterRule_Or(jsii.String("INSERT"), jsii.String("MODIFY")),
				})},
			}))
		case WAFBlocks:
			// CloudWatch Logs invokes asynchronously: failures are retried, then go to the failure queue.
			awslogs.NewSubscriptionFilter(a.Stack, jsii.String(FunctionID(f.Name)+"Subscription"), &awslogs.SubscriptionFilterProps{
				LogGroup:      a.WAFLogs,
				Destination:   awslogsdestinations.NewLambdaDestination(fn, nil),
				FilterPattern: awslogs.FilterPattern_StringValue(jsii.String("$.action"), jsii.String("="), jsii.String("BLOCK")),
			})
		case Hourly, Daily, Weekly:
			awsevents.NewRule(a.Stack, jsii.String(FunctionID(f.Name)+"Schedule"), &awsevents.RuleProps{
				Description: jsii.String("Vaultbill " + f.Name + " (" + string(f.Trigger) + ")"),
				Schedule:    schedule(f.Trigger),
				Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
					DeadLetterQueue: a.Failures,
					RetryAttempts:   jsii.Number(2),
					MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
				})},
			})
		}
	}
}

func (a *APIStack) newAlarms(props *APIStackProps) {
	action := awscloudwatchactions.NewSnsAction(a.Alerts)
	alarm := func(id, description string, m awscloudwatch.Metric, threshold float64) {
		al := m.CreateAlarm(a.Stack, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(description),
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		al.AddAlarmAction(action)
	}
	five := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}
	alarm("Api5xxAlarm", "The API answered 5xx (a function, the authorizer or a dependency failed).", a.API.MetricServerError(five), 1)
	for _, f := range Functions {
		alarm(FunctionID(f.Name)+"ErrorsAlarm", "The "+f.Name+" function failed.", a.Functions[f.Name].MetricErrors(five), 1)
	}
	alarm("FailureQueueAlarm", "A scheduled or stream invocation failed after its retries (see the failure queue).",
		a.Failures.MetricApproximateNumberOfMessagesVisible(five), 1)

	// Denials: the authorizer logs "token rejected" (401) and "request denied" (403), one line each.
	authorizerLogs := a.Functions["authorizer"].LogGroup()
	denials := awslogs.NewMetricFilter(a.Stack, jsii.String("AuthorizerDenials"), &awslogs.MetricFilterProps{
		LogGroup:        authorizerLogs,
		MetricNamespace: jsii.String("Vaultbill"),
		MetricName:      jsii.String("AuthorizerDenials"),
		MetricValue:     jsii.String("1"),
		FilterPattern: awslogs.FilterPattern_Any(
			awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String("token rejected")),
			awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String("request denied")),
		),
	})
	alarm("AuthorizerDenialsAlarm", "Many requests were refused by the authorizer (credential stuffing or a broken client).",
		denials.Metric(five), props.DenialAlarmThreshold)
	a.newAuditAlarms(alarm, five)
	a.newBackupAlarms(action)
}

// AuditAlertRules are the automated review's rules (shared/ops/auditreview) each function raises: the
// shipper evaluates every rule on the records it ships, the digest reports only its own failures.
var AuditAlertRules = map[string][]string{
	"audit-shipper": {auditreview.RuleAuthFailures, auditreview.RuleCardDataDenied, auditreview.RuleDetokenize,
		auditreview.RuleNoMFA, auditreview.RulePipeline,
		auditreview.RuleCardAttempts, auditreview.RuleCardFailures, auditreview.RuleCardThrottled,
		auditreview.RulePrivilegeElevation},
	"audit-digest": {auditreview.RulePipeline},
}

// newAuditAlarms alarms on the automated review's EMF metrics (namespace Vaultbill/Audit): every
// alert a rule raised, per function and rule (the metric still counts an alert whose SNS publish
// failed), and every audit pipeline failure.
func (a *APIStack) newAuditAlarms(alarm func(id, description string, m awscloudwatch.Metric, threshold float64), five *awscloudwatch.MetricOptions) {
	for _, fn := range []string{"audit-shipper", "audit-digest"} {
		for _, rule := range AuditAlertRules[fn] {
			alarm(FunctionID(fn)+LogicalID(rule, "Alarm"), "The audit review raised "+rule+" ("+fn+").",
				awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
					Namespace: jsii.String(auditreview.Namespace), MetricName: jsii.String(auditreview.MetricAlerts),
					DimensionsMap: &map[string]*string{"Function": jsii.String(fn), "Rule": jsii.String(rule)},
					Period:        five.Period, Statistic: five.Statistic,
				}), 1)
		}
		alarm(FunctionID(fn)+"PipelineFailuresAlarm", "The audit trail failed to ship, decode or digest ("+fn+").",
			awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String(auditreview.Namespace), MetricName: jsii.String(auditreview.MetricPipeline),
				DimensionsMap: &map[string]*string{"Function": jsii.String(fn)},
				Period:        five.Period, Statistic: five.Statistic,
			}), 1)
	}
	// The audit writer's and shipper's last check masked a card number (shared/adapters/audit.Guard).
	alarm("AuditCardNumberMaskedAlarm", "An audit record held a card number; it was masked before it was stored or shipped.",
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(audit.MetricNamespace), MetricName: jsii.String(audit.MetricCardNumbersMasked),
			Period: five.Period, Statistic: five.Statistic,
		}), 1)
}

// BackupAlertMetrics are the metrics of the log lines shared/ops/backup marks "alert": true, per function.
var BackupAlertMetrics = map[string]string{"backup": "BackupAlertLines", "restore-test": "RestoreTestAlertLines"}

// newBackupAlarms alarms on the backup functions' EMF metrics (namespace Vaultbill/Backup, dimension
// Table): a day without a successful backup of a table, a week without a passing restore test, a
// newest backup older than 48 hours; and on every log line they mark as an alert. A missing
// datapoint is a failure: a schedule that stopped running must not look healthy.
func (a *APIStack) newBackupAlarms(action awscloudwatchactions.SnsAction) {
	day := awscdk.Duration_Days(jsii.Number(1))
	add := func(id, description string, m awscloudwatch.Metric, opts *awscloudwatch.CreateAlarmOptions) {
		opts.AlarmDescription = jsii.String(description)
		m.CreateAlarm(a.Stack, jsii.String(id), opts).AddAlarmAction(action)
	}
	metric := func(name, table, statistic string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(backup.Namespace), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{"Table": jsii.String(table)},
			Period:        day, Statistic: jsii.String(statistic),
		})
	}
	for _, t := range resources.Tables {
		add(LogicalID(t.ID, "BackupSuccessAlarm"), "No successful backup of the "+t.ID+" table in a day.",
			metric("BackupSuccess", t.ID, "Minimum"), &awscloudwatch.CreateAlarmOptions{
				Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
			})
		// The test runs weekly: of seven daily periods one has a datapoint, so all seven breach only
		// when that run failed or did not happen.
		add(LogicalID(t.ID, "RestoreTestSuccessAlarm"), "No passing restore test of the "+t.ID+" table in 7 days.",
			metric("RestoreTestSuccess", t.ID, "Minimum"), &awscloudwatch.CreateAlarmOptions{
				Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(7), DatapointsToAlarm: jsii.Number(7),
				ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
			})
		add(LogicalID(t.ID, "BackupAgeAlarm"), "The newest backup of the "+t.ID+" table is older than 48 hours.",
			metric("BackupAge", t.ID, "Maximum"), &awscloudwatch.CreateAlarmOptions{
				Threshold: jsii.Number(MaxBackupAge.Seconds()), EvaluationPeriods: jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			})
	}
	for _, fn := range []string{"backup", "restore-test"} {
		filter := awslogs.NewMetricFilter(a.Stack, jsii.String(FunctionID(fn)+"AlertLines"), &awslogs.MetricFilterProps{
			LogGroup:        a.Functions[fn].LogGroup(),
			MetricNamespace: jsii.String(backup.Namespace),
			MetricName:      jsii.String(BackupAlertMetrics[fn]),
			MetricValue:     jsii.String("1"),
			FilterPattern:   awslogs.FilterPattern_BooleanValue(jsii.String("$.alert"), jsii.Bool(true)),
		})
		add(FunctionID(fn)+"AlertLinesAlarm", "The "+fn+" function logged an alert (a failed backup, restore or audit write).",
			filter.Metric(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
			&awscloudwatch.CreateAlarmOptions{
				Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			})
	}
}
