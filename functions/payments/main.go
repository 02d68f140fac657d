// Command payments serves POST /v1/invoices/{id}/pay: it charges an open invoice to a card token, once.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
)

func main() { wiring.RunAPI(routes.Payments, payments.Register) }
