// Command audit-query serves GET /v1/audit-events to auditors and admins.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/auditquery"
)

func main() { wiring.Run(auditquery.Build) }
