// Command me serves GET /v1/me: the caller's principal, role, customer and MFA flag.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/me"
)

func main() { wiring.Run(me.Build) }
