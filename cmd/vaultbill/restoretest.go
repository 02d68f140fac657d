package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

func runRestoreTest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("restore-test", flag.ContinueOnError)
	budget := addBudgetFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := withRunner(ctx, func(r *backup.Runner) (backup.RestoreTestResult, error) {
		if budget.budget > 0 {
			return budget.restoreTestInvocations(ctx, r)
		}
		return r.RestoreTest(ctx)
	})
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nTABLE\tBACKUP ID\tAGE\tITEMS\tVAULT KEY\tTIME\tRESULT")
	for _, t := range res.Tables {
		result := "ok"
		if t.Err != nil {
			result = "FAILED: " + t.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", t.Table, orDash(t.BackupID), age(t.Age), t.Items, orDash(t.VaultKey),
			t.Duration.Round(time.Millisecond), result)
	}
	tw.Flush()
	if err != nil {
		return fmt.Errorf("restore test failed: %w\nthe scratch tables were deleted; run `vaultbill backup` for a fresh backup and look into the failing one", err)
	}
	fmt.Println("every table's newest backup restored and verified; scratch tables deleted")
	return nil
}
