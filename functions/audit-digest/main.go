// Command audit-digest runs hourly: it writes the signed digest file that hashes the log files
// delivered since the previous digest and chains to it.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/audittrail"
)

func main() { wiring.Run(audittrail.BuildDigest) }
