package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// AuthorizerCacheSeconds is how long API Gateway reuses an authorizer answer for one token. It is 0:
// every request reaches the authorizer, so every refusal is audited (a cached Deny would be replayed
// unaudited), and a revocation takes effect at the next request. The authorizer reads the user's
// session epoch on every invocation, with no cache of its own. Any value up to RevocationBound would
// still keep DESIGN §4's 60 s bound; the template tests pin both.
const AuthorizerCacheSeconds = 0

// RevocationBound is the longest a revoked token may still be accepted.
const RevocationBound = 60

// poolMFA is the CDK MFA setting of a pool definition.
func poolMFA(p resources.UserPool) awscognito.Mfa {
	if p.MFARequired {
		return awscognito.Mfa_REQUIRED
	}
	return awscognito.Mfa_OPTIONAL
}
