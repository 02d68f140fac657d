// Command backup runs on a daily EventBridge schedule (and on demand): it takes a native backup and
// an encrypted export of every table to the backup bucket, prunes expired backups, and reports.
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
	r, err := wiring.Backup(env, wiring.BackupPrincipal)
	if err != nil {
		log.Error("cold start failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(r.HandleBackup)
}
