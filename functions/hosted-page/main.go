// Command hosted-page serves the hosted invoice page: the page, its assets, its CSP violation reports,
// and the links that open it. The card form on the page posts to the tokens function, never here.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/hostedpage"
)

func main() { wiring.Run(hostedpage.Build) }
