// Command authorizer is the API's Lambda REQUEST authorizer: JWT (RS256, JWKS) + role + MFA.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/vaultbill/vaultbill/shared/authorizer"
	"github.com/vaultbill/vaultbill/shared/logging"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func main() {
	log := logging.FromEnv(os.Stdout)
	env, err := wiring.Load(context.Background(), log)
	if err != nil {
		log.Error("cold start failed", "error", err)
		os.Exit(1)
	}
	a, err := authorizer.Build(env)
	if err != nil {
		log.Error("cold start failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(a.Handle)
}
