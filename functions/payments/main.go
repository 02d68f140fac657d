// Command payments serves POST /v1/invoices/{id}/pay: it charges an open invoice to a card token, once.
package main

import (
	"github.com/vaultbill/vaultbill/shared/payments"
	"github.com/vaultbill/vaultbill/shared/routes"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func main() { wiring.RunAPI(routes.Payments, payments.Register) }
