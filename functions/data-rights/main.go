// Command data-rights serves a customer's data rights: the export of everything held about them.
package main

import (
	"github.com/vaultbill/vaultbill/shared/datarights"
	"github.com/vaultbill/vaultbill/shared/routes"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func main() { wiring.RunAPI(routes.DataRights, datarights.Register) }
