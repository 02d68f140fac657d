// Command data-rights serves a customer's data rights: the export of everything held about them.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/datarights"
)

func main() { wiring.RunAPI(routes.DataRights, datarights.Register) }
