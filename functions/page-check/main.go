// Command page-check runs on a weekly EventBridge schedule (and on demand: vaultbill page check): it
// fetches the live hosted invoice page and alerts when its security headers, scripts or styles differ
// from the inventory it was released with (PCI DSS 11.6.1).
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/hostedpage"
)

func main() { wiring.Run(hostedpage.BuildCheck) }
