// Command audit-shipper writes the audit table's stream to CloudTrail-format log files in S3 and runs
// the automated review rules on the records as they ship.
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
	env.Metrics = os.Stdout // CloudWatch reads Embedded Metric Format lines from the function's output
	shipper, err := wiring.AuditShipper(env)
	if err != nil {
		log.Error("cold start failed", "error", err)
		os.Exit(1)
	}
	lambda.StartWithOptions(shipper.Handle, lambda.WithEnableSIGTERM(shipper.Close))
}
