package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

// budgetFlags are the flags that simulate Lambda invocations locally: work stops to checkpoint after
// --budget and continues in the next simulated invocation, as the functions continue in AWS.
type budgetFlags struct {
	budget, margin time.Duration
	out            io.Writer // where each paused invocation is reported
}

func addBudgetFlags(fs *flag.FlagSet) *budgetFlags {
	b := &budgetFlags{out: os.Stderr}
	fs.DurationVar(&b.budget, "budget", 0, "simulate invocations that stop to checkpoint after this long each (e.g. 2s); 0: one run to the end")
	fs.DurationVar(&b.margin, "margin", backup.DefaultStopMargin, "with --budget: time each simulated invocation gives the calls in flight after it stops")
	return b
}

// invocation is the context of one simulated invocation: its deadline is budget plus margin away,
// and r stops margin before it.
func (b *budgetFlags) invocation(ctx context.Context, r *backup.Runner) (context.Context, context.CancelFunc) {
	r.StopMargin = b.margin
	return context.WithTimeout(ctx, b.budget+b.margin)
}

func (b *budgetFlags) progress(i int, what string) {
	fmt.Fprintf(b.out, "invocation %d (budget %s): paused at a checkpoint, %s\n", i+1, b.budget, what)
}

// backupInvocations runs a backup in simulated invocations until it is over.
func (b *budgetFlags) backupInvocations(ctx context.Context, r *backup.Runner, resume string) (backup.BackupResult, error) {
	job := backup.BackupJob{ID: resume}
	for i := 0; ; i++ {
		ictx, cancel := b.invocation(ctx, r)
		res, next, err := r.BackupStep(ictx, job)
		cancel()
		if err != nil || next == nil {
			return res, err
		}
		b.progress(i, fmt.Sprintf("backup %s continues", res.ID))
		job = *next
	}
}

// restoreInvocations runs a restore in simulated invocations until it is over.
func (b *budgetFlags) restoreInvocations(ctx context.Context, r *backup.Runner, req backup.RestoreRequest) (backup.RestoreResult, error) {
	for i := 0; ; i++ {
		ictx, cancel := b.invocation(ctx, r)
		res, err := r.Restore(ictx, req)
		cancel()
		if err != nil || res.Next == nil {
			return res, err
		}
		b.progress(i, fmt.Sprintf("%s phase, %d of %d parts loaded", res.Next.Phase, res.Next.Loaded, res.Parts))
		req.Checkpoint = res.Next
	}
}

// restoreTestInvocations runs a restore test in simulated invocations until it is over.
func (b *budgetFlags) restoreTestInvocations(ctx context.Context, r *backup.Runner) (backup.RestoreTestResult, error) {
	var job backup.RestoreTestJob
	for i := 0; ; i++ {
		ictx, cancel := b.invocation(ctx, r)
		res, next, err := r.RestoreTestStep(ictx, job)
		cancel()
		if err != nil || next == nil {
			return res, err
		}
		done := 0
		for _, t := range next.Tables {
			if t.Finished {
				done++
			}
		}
		b.progress(i, fmt.Sprintf("%d of %d tables tested", done, len(next.Tables)))
		job = *next
	}
}
