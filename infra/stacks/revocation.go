package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"

	"github.com/vaultbill/vaultbill/shared/resources"
)

// AuthorizerCacheSeconds is how long API Gateway reuses an authorizer answer for one token. It bounds
// how late a revocation takes effect (DESIGN §4: within 60 s): the authorizer reads the user's session
// epoch on every invocation, with no cache of its own, so a revoked token is refused at its next
// invocation, at most this long after the revocation.
const AuthorizerCacheSeconds = 30

// RevocationBound is the longest a revoked token may still be accepted.
const RevocationBound = 60

// poolMFA is the CDK MFA setting of a pool definition.
func poolMFA(p resources.UserPool) awscognito.Mfa {
	if p.MFARequired {
		return awscognito.Mfa_REQUIRED
	}
	return awscognito.Mfa_OPTIONAL
}
