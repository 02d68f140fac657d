// Command audit-query serves GET /v1/audit-events to auditors and admins.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/auditquery"
)

func main() { wiring.RunAPI(routes.AuditQuery, auditquery.Register) }
