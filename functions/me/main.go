// Command me serves GET /v1/me: the caller's principal, role, customer and MFA flag.
package main

import (
	"github.com/vaultbill/vaultbill/shared/me"
	"github.com/vaultbill/vaultbill/shared/routes"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func main() { wiring.RunAPI(routes.Me, me.Register) }
