// Command tokens serves the card vault routes: tokenize a card, read and list token metadata, delete a token.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
)

func main() { wiring.RunAPI(routes.Tokens, tokens.Register) }
