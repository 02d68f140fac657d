package stacks

import "github.com/vaultbill/vaultbill/shared/routes"

// hostedPageReason is why the hosted invoice page's methods have no authorizer.
const hostedPageReason = "The hosted invoice page's routes (/pay/...) are for customers without an account: the credential is the link in the path, a 256-bit capability stored hashed, checked by the function that serves each route against its invoice's status on every request, audited and rate limited like every request. Every other method uses the REQUEST authorizer (template test TestHostedPageRoutesAreOpenAndNothingElseIs)."

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
