package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

func runRestore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	from := fs.String("from", "", `backup id (see "vaultbill backup list"), or "latest" (required)`)
	source := fs.String("source", "", "table the backup is of: billing, vault or audit (required)")
	table := fs.String("table", "", "name of the NEW table to restore into; it must not exist (required)")
	budget := addBudgetFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || *source == "" || *table == "" {
		fs.Usage()
		return fmt.Errorf("--from, --source and --table are required, e.g. --from latest --source billing --table vaultbill-billing-restored")
	}
	res, err := withRunner(ctx, func(r *backup.Runner) (backup.RestoreResult, error) {
		req := backup.RestoreRequest{Source: *source, From: *from, Table: *table}
		if budget.budget > 0 {
			return budget.restoreInvocations(ctx, r, req)
		}
		return r.Restore(ctx, req)
	})
	switch {
	case errors.Is(err, backup.ErrTableExists):
		return fmt.Errorf("%w\nnothing was changed", err)
	case errors.Is(err, backup.ErrNoBackup):
		return fmt.Errorf(`%w; run "vaultbill backup list --table %s" to see the backups`, err, *source)
	case err != nil:
		return fmt.Errorf("%w\nthe backup failed verification or could not be written; the table %s was not kept. Try an older backup with --from <id>", err, *table)
	}
	fmt.Printf("\nrestored backup %s of %s into %s: %d items, %d parts, %s, verified in %s\n",
		res.BackupID, res.Source, res.Table, res.Items, res.Parts, size(res.Bytes), res.Duration.Round(time.Millisecond))
	fmt.Printf("every item matches the manifest's count and checksum. To use it, point the functions' %s_TABLE at %s.\n",
		strings.ToUpper(res.Source), res.Table)
	return nil
}
