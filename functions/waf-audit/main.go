// Command waf-audit writes an audit record for every request the web ACL blocked: it is subscribed to
// the WAF log group, whose filter passes only blocks.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/wafaudit"
)

func main() {
	wiring.Run(func(env wiring.Env) (any, error) {
		a, err := wafaudit.Build(env)
		if err != nil {
			return nil, err
		}
		return a.Handle, nil
	})
}
