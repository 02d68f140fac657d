// Command audit-digest runs hourly: it writes the signed digest file that hashes the log files
// delivered since the previous digest and chains to it.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

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
	env.Metrics = os.Stdout
	fn, err := wiring.BuildAuditDigest(env)
	if err != nil {
		log.Error("cold start failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(fn.Handle)
}
