// Command tokens serves the card vault routes: tokenize a card, read and list token metadata, delete a token.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/tokens"
)

func main() { wiring.Run(tokens.Build) }
