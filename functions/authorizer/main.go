// Command authorizer is the API's Lambda REQUEST authorizer: JWT (RS256, JWKS) + role + MFA.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/authorizer"
)

func main() { wiring.Run(authorizer.Build) }
