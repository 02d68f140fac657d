// Command restore-test runs on a weekly EventBridge schedule (and on demand): it restores the newest
// backup of every table into a scratch table, verifies it, proves the vault key still works, deletes
// the scratch table, and reports.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/backup"
)

func main() { wiring.Run(backup.BuildRestoreTest) }
