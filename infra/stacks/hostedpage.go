package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// hostedPageReason is why the hosted invoice page's methods have no authorizer.
const hostedPageReason = "The hosted invoice page's routes (/pay/...) are for customers without an account: the credential is the link in the path, a 256-bit capability stored hashed, checked by the function that serves each route against its invoice's status on every request, audited and rate limited like every request. The link is never written down: audit records (the function's and a WAF block's) name it by its id, the access log names the route template, and execution logging is off for these methods (TestBlockedHostedPageRequestKeepsItsLink, TestStageLogsThrottlesAndTraces). Every other method uses the REQUEST authorizer (template test TestHostedPageRoutesAreOpenAndNothingElseIs)."

// PageCheck is the function that checks the live hosted page against its inventory (PCI DSS 11.6.1).
const PageCheck = "page-check"

// pageCheckURL tells the page check where the live page is: the stage's URL of the canary path.
func pageCheckURL(functions map[string]awslambda.Function, api awsapigateway.RestApi) {
	if fn, ok := functions[PageCheck]; ok {
		fn.AddEnvironment(jsii.String(resources.EnvPageCheckURL), api.UrlForPath(jsii.String(resources.PageCheckPath)), nil)
	}
}

func init() {
	for _, r := range routes.All {
		if r.CapabilityChecked() {
			Suppressions = append(Suppressions, Suppression{
				Stack: APIStackName, Path: "/VaultbillApi/Api/Default" + r.Path + "/" + r.Method + "/Resource",
				Rule: "AwsSolutions-APIG4", Reason: hostedPageReason,
			})
		}
	}
}
