// Command credit-notes serves the credit note routes: credit notes on open invoices, refunds through the
// card processor on paid ones (no vault access: a refund names a charge, never a card), and their reads.
package main

import (
	"github.com/vaultbill/vaultbill/shared/creditnotes"
	"github.com/vaultbill/vaultbill/shared/routes"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func main() { wiring.RunAPI(routes.CreditNotes, creditnotes.Register) }
