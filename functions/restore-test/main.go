// Command restore-test runs on a weekly EventBridge schedule (and on demand): it restores the newest
// backup of every table into a scratch table, verifies it, proves the vault key still works, deletes
// the scratch table, and reports.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

func main() {
	wiring.Run(func(env wiring.Env) (any, error) {
		r, err := backup.RestoreTestFromEnv(env, backup.RestoreTestPrincipal)
		if err != nil {
			return nil, err
		}
		return r.HandleRestoreTest, nil
	})
}
