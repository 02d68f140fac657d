// Command payments serves POST /v1/invoices/{id}/pay: it charges an open invoice to a card token, once.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/payments"
)

func main() { wiring.Run(payments.Build) }
