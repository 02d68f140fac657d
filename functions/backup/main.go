// Command backup runs on a daily EventBridge schedule (and on demand): it takes a native backup and
// an encrypted export of every table to the backup bucket, prunes expired backups, and reports.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

func main() {
	wiring.Run(func(env wiring.Env) (any, error) {
		r, err := backup.FromEnv(env, backup.BackupPrincipal)
		if err != nil {
			return nil, err
		}
		return r.HandleBackup, nil
	})
}
