// Command invoices serves the customer and invoice routes: customers, drafts, finalization with gapless
// numbers, voiding and writing off.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/invoices"
)

func main() { wiring.RunAPI(routes.Invoices, invoices.Register) }
