// Command authorizer is the API's Lambda REQUEST authorizer: JWT (RS256, JWKS) + role + MFA.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/authorizer"
)

func main() {
	wiring.Run(func(env wiring.Env) (any, error) {
		a, err := authorizer.Build(env)
		if err != nil {
			return nil, err
		}
		return a.Handle, nil
	})
}
