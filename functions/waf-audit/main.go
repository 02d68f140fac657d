// Command waf-audit writes an audit record for every request the web ACL blocked: it is subscribed to
// the WAF log group, whose filter passes only blocks.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/wafaudit"
)

func main() { wiring.Run(wafaudit.Build) }
