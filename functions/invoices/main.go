// Command invoices serves the customer and invoice routes: customers, drafts, finalization with gapless
// numbers, voiding and writing off.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/invoices"
)

func main() { wiring.Run(invoices.Build) }
