// Command tokens serves the card vault routes: tokenize a card, read and list token metadata, delete a token.
package main

import (
	"github.com/vaultbill/vaultbill/shared/routes"
	"github.com/vaultbill/vaultbill/shared/tokens"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func main() { wiring.RunAPI(routes.Tokens, tokens.Register) }
