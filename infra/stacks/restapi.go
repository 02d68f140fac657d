package stacks

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/api/routes"
)

// RestAPI is the REST API of the route table: its stage with access and execution logs, the REQUEST
// authorizer in front of every method but the hosted page's, request validation, one Lambda
// integration per function, and the problem+json bodies of the gateway's own refusals.
type RestAPI struct {
	constructs.Construct
	API awsapigateway.RestApi
}

// RestAPIProps configures the REST API (the fields mean what APIStackProps' fields of the same names do).
type RestAPIProps struct {
	Data                        *DataStack
	LogRetention                awslogs.RetentionDays
	StageName                   string
	ThrottleRate, ThrottleBurst float64
	AuthorizerCacheSeconds      float64
	DomainName, CertificateARN  string
	// Functions are the function table's functions by name; every route names one.
	Functions map[string]awslambda.Function
}

// linkRouteOptions turns execution logging off for the hosted page's routes. Their path holds the
// link, a bearer secret for the invoice, and execution logs at INFO print the request path; the access
// log names the route template (resourcePath), never the path.
func linkRouteOptions(props *RestAPIProps) *map[string]*awsapigateway.MethodDeploymentOptions {
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

// NewRestAPI creates the REST API (construct id "RestApi"; its resources are the stack's, see NewAPIStack).
func NewRestAPI(scope constructs.Construct, props *RestAPIProps) *RestAPI {
	c := &RestAPI{Construct: constructs.NewConstruct(scope, jsii.String("RestApi"))}
	stack := awscdk.Stack_Of(scope)
	d := props.Data
	accessLogs := awslogs.NewLogGroup(stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
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
			Certificate:    awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), jsii.String(props.CertificateARN)),
			SecurityPolicy: awsapigateway.SecurityPolicy_TLS_1_2,
			EndpointType:   awsapigateway.EndpointType_REGIONAL,
		}
	}
	api := awsapigateway.NewRestApi(stack, jsii.String(RestAPIID), apiProps)
	c.API = api
	// API Gateway creates the execution log group on first use, unencrypted and kept forever; creating
	// it here gives it the key and the retention.
	awslogs.NewLogGroup(stack, jsii.String("ApiExecutionLogs"), &awslogs.LogGroupProps{
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
	authorizer := awsapigateway.NewRequestAuthorizer(stack, jsii.String(AuthorizerID), &awsapigateway.RequestAuthorizerProps{
		Handler:         props.Functions["authorizer"],
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
	pageCheckURL(props.Functions, api)
	integrations := map[string]awsapigateway.LambdaIntegration{}
	for _, r := range routes.All {
		fn, ok := props.Functions[r.Function]
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

	// The same bodies the local gateway serves (shared/api/httpapi renders both), with API Gateway's variables in them.
	headers := &map[string]*string{"Content-Type": jsii.String("'" + httpapi.ProblemContentType + "'")}
	api.AddGatewayResponse(jsii.String("Unauthorized"), &awsapigateway.GatewayResponseOptions{
		Type:            awsapigateway.ResponseType_UNAUTHORIZED(),
		StatusCode:      jsii.String("401"),
		ResponseHeaders: headers,
		Templates:       &map[string]*string{"application/json": jsii.String(httpapi.UnauthorizedTemplate())},
	})
	api.AddGatewayResponse(jsii.String("AccessDenied"), &awsapigateway.GatewayResponseOptions{
		Type:            awsapigateway.ResponseType_ACCESS_DENIED(),
		StatusCode:      jsii.String("403"),
		ResponseHeaders: headers,
		Templates:       &map[string]*string{"application/json": jsii.String(httpapi.AccessDeniedTemplate())},
	})
	return c
}
