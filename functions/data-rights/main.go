// Command data-rights serves a customer's data rights: the export of everything held about them.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/datarights"
)

func main() { wiring.Run(datarights.Build) }
