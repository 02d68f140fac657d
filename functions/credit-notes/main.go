// Command credit-notes serves the credit note routes: credit notes on open invoices, refunds through the
// card processor on paid ones (no vault access: a refund names a charge, never a card), and their reads.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/creditnotes"
)

func main() { wiring.RunAPI(routes.CreditNotes, creditnotes.Register) }
