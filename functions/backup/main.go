// Command backup runs on a daily EventBridge schedule (and on demand): it takes a native backup and
// an encrypted export of every table to the backup bucket, prunes expired backups, and reports.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/backup"
)

func main() { wiring.Run(backup.Build) }
