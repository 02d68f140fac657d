// Command audit-digest runs hourly: it writes the signed digest file that hashes the log files
// delivered since the previous digest and chains to it.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/ops/auditops"
)

func main() {
	wiring.Run(func(env wiring.Env) (any, error) {
		d, err := auditops.NewDigest(env)
		if err != nil {
			return nil, err
		}
		return d.Handle, nil
	})
}
