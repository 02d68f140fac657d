package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

func runBackup(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "list" {
		return backupList(ctx, args[1:], os.Stdout)
	}
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: vaultbill backup          back up every table now (native backup + encrypted export)\n"+
			"       vaultbill backup --budget 2s [--resume ID]   the same in simulated invocations that checkpoint\n"+
			"       vaultbill backup list [--table billing|vault|audit]\n")
		fs.PrintDefaults()
	}
	budget := addBudgetFlags(fs)
	resume := fs.String("resume", "", "with --budget: continue the run with this backup id from its checkpoints")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	res, err := withRunner(ctx, func(r *backup.Runner) (backup.BackupResult, error) {
		if budget.budget > 0 {
			return budget.backupInvocations(ctx, r, *resume)
		}
		return r.Backup(ctx)
	})
	printBackup(os.Stdout, res)
	if err != nil {
		return fmt.Errorf("backup %s failed: %w\nNo manifest was written for a failed table, so its partial backup is never used; fix the cause and run `vaultbill backup` again (with --budget, `--resume %[1]s` continues from the checkpoints)", res.ID, err)
	}
	return nil
}

func printBackup(w io.Writer, res backup.BackupResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nbackup %s\n", res.ID)
	fmt.Fprintln(tw, "TABLE\tITEMS\tPARTS\tSIZE\tTIME\tNATIVE BACKUP\tRESULT")
	for _, t := range res.Tables {
		result := "ok"
		if t.Err != nil {
			result = "FAILED: " + t.Err.Error()
		} else if t.NativeErr != nil {
			result = "native backup FAILED: " + t.NativeErr.Error()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", t.Table, t.Items, t.Parts, size(t.SealedBytes),
			t.Duration.Round(time.Millisecond), orDash(t.NativeBackupARN), result)
	}
	tw.Flush()
	if res.Pruned > 0 {
		fmt.Fprintf(w, "pruned %d expired backups\n", res.Pruned)
	}
}

func backupList(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("backup list", flag.ContinueOnError)
	table := fs.String("table", "", "list one table's backups (billing, vault or audit); default all")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, stop, err := operatorRunner(ctx, os.Stderr)
	if err != nil {
		return err
	}
	defer stop()
	var tables []string
	if *table != "" {
		tables = []string{*table}
	}
	cats, err := r.List(ctx, tables...)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tBACKUP ID\tAGE\tITEMS\tPARTS\tSIZE\tSCAN")
	for _, c := range cats {
		for _, m := range c.Backups {
			start, _ := time.Parse(time.RFC3339Nano, m.ScanStart)
			end, _ := time.Parse(time.RFC3339Nano, m.ScanEnd)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", c.Table, m.ID, age(time.Since(m.Time())), m.ItemCount,
				len(m.Parts), size(m.SealedBytes()), end.Sub(start).Round(time.Millisecond))
		}
		if len(c.Backups) == 0 {
			fmt.Fprintf(tw, "%s\t(no complete backup)\t\t\t\t\t\n", c.Table)
		}
	}
	tw.Flush()
	for _, c := range cats {
		if c.Incomplete > 0 {
			fmt.Fprintf(w, "%s: %d incomplete backup(s) without a manifest ignored (interrupted runs; pruned after a day)\n", c.Table, c.Incomplete)
		}
	}
	return nil
}

func age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
