// Command audit-shipper writes the audit table's stream to CloudTrail-format log files in S3 and runs
// the automated review rules on the records as they ship.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/ops/auditops"
)

func main() {
	wiring.RunWithOptions(func(env wiring.Env) (any, []lambda.Option, error) {
		shipper, err := auditops.Shipper(env)
		if err != nil {
			return nil, nil, err
		}
		// Lambda sends SIGTERM before it ends an environment: flush what is pending then.
		return shipper.Handle, []lambda.Option{lambda.WithEnableSIGTERM(shipper.Close)}, nil
	})
}
