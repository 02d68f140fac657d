// Command credit-notes serves the credit note routes: credit notes on open invoices, refunds through the
// card processor on paid ones (no vault access: a refund names a charge, never a card), and their reads.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/creditnotes"
)

func main() { wiring.Run(creditnotes.Build) }
