// Command audit-shipper writes the audit table's stream to CloudTrail-format log files in S3 and runs
// the automated review rules on the records as they ship.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/audittrail"
)

func main() { wiring.Run(audittrail.BuildShipper) }
