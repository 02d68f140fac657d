// Command audit-query serves GET /v1/audit-events to auditors and admins.
package main

import (
	"github.com/vaultbill/vaultbill/shared/auditquery"
	"github.com/vaultbill/vaultbill/shared/routes"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func main() { wiring.RunAPI(routes.AuditQuery, auditquery.Register) }
