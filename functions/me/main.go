// Command me serves GET /v1/me: the caller's principal, role, customer and MFA flag.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/me"
)

func main() { wiring.RunAPI(routes.Me, me.Register) }
