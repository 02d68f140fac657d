// Command vaultbill is the operator and developer CLI: it runs the local stack, mints local tokens,
// invokes functions on sample events, and backs up and restores the tables.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: vaultbill <command> [flags]

commands:
  dev       run the local stack (emulator, resources, API on :3000) until Ctrl-C
  token     print a JWT the local stack accepts
  invoke    run one function on one event file, like "sam local invoke"
  audit     validate the audit trail (validate), or write its digest now (digest)
  backup    back up every table now; "backup list" lists the backups
  restore   restore a backup into a new table: --from <id|latest> --source <table> --table <new-table>
  restore-test  restore the newest backups into scratch tables, verify them, delete them
  emulator  run a command with one AWS emulator (AWS_ENDPOINT_URL, or moto_server on a free port)
  tokens    "tokens import --file cards.csv --customer cus_...": load existing cards into the vault
  sam-env   write the --env-vars file of sam local invoke/start-api for the local stack
  login     sign in to the user pool (--email E): new password and TOTP at first; prints the ID token
  users     "users invite --email E --role ROLE [--customer cus_...]": invite through the local API
  page      "page check --url URL": check the live hosted invoice page against its released inventory
  erasures  "erasures reapply --billing-table T [--vault-table T]": erase again, in tables restored by PITR
            or AWS Backup, every customer of the erasure ledger
  keys      "keys rewrap --key data|vault|backup --to KEY": re-encrypt every data key under another KMS key
  customers "customers migrate": move customers stored before per-customer keys under keys of their own

Run "vaultbill <command> -h" for a command's flags.
`

type command func(ctx context.Context, args []string) error

var commands = map[string]command{
	"dev":          runDev,
	"token":        runToken,
	"invoke":       runInvoke,
	"audit":        runAudit,
	"backup":       runBackup,
	"restore":      runRestore,
	"restore-test": runRestoreTest,
	"emulator":     runEmulator,
	"tokens":       runTokens,
	"sam-env":      runSAMEnv,
	"login":        runLogin,
	"users":        runUsers,
	"page":         runPage,
	"erasures":     runErasures,
	"keys":         runKeys,
	"customers":    runCustomers,
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "vaultbill: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "vaultbill %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
