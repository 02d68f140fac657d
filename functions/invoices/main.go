// Command invoices serves the customer and invoice routes: customers, drafts, finalization with gapless
// numbers, voiding and writing off.
package main

import (
	"github.com/vaultbill/vaultbill/shared/invoices"
	"github.com/vaultbill/vaultbill/shared/routes"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func main() { wiring.RunAPI(routes.Invoices, invoices.Register) }
