// Command restore-test runs on a weekly EventBridge schedule (and on demand): it restores the newest
// backup of every table into a scratch table, verifies it, proves the vault key still works, deletes
// the scratch table, and reports.
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
	r, err := wiring.RestoreTest(env, wiring.RestoreTestPrincipal)
	if err != nil {
		log.Error("cold start failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(r.HandleRestoreTest)
}
