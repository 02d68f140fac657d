package devstack

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vaultbill/vaultbill/shared/handlers/hostedpage"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
)

// The local stand-ins for the EventBridge schedules of the backup and restore-test functions.
const (
	DefaultBackupEvery      = 24 * time.Hour
	DefaultRestoreTestEvery = 7 * 24 * time.Hour
	// DefaultPageCheckEvery is the hosted page check's (PCI DSS 11.6.1 asks for weekly at least).
	DefaultPageCheckEvery = 7 * 24 * time.Hour
)

// checkPage fetches the stack's own hosted page and alerts on any difference from its inventory, as
// the page-check function does in AWS.
func (s *Stack) checkPage(ctx context.Context) error {
	if s.URL == "" {
		return nil // the gateway is not serving HTTP: there is no page to fetch
	}
	c := &hostedpage.Checker{URL: s.URL + hostedpage.CanaryPath, Log: s.Env.Log, Alert: &hostedpage.Alerter{Metrics: s.Env.Metrics}}
	_, err := c.Run(ctx)
	return err
}

// startSchedules runs the backup daily and the restore test weekly (or as often as o says) until
// Stop. Each runs the same runner its Lambda function does.
func (s *Stack) startSchedules(o Options) error {
	b, err := backupwiring.New(s.FunctionEnv("backup"), backup.BackupPrincipal)
	if err != nil {
		return err
	}
	rt, err := backupwiring.NewRestoreTest(s.FunctionEnv("restore-test"), backup.RestoreTestPrincipal)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, job := range []struct {
		name  string
		every time.Duration
		run   func(context.Context) error
	}{
		{"backup", orDuration(o.BackupEvery, DefaultBackupEvery), func(ctx context.Context) error { _, err := b.Backup(ctx); return err }},
		{"restore-test", orDuration(o.RestoreTestEvery, DefaultRestoreTestEvery), func(ctx context.Context) error { _, err := rt.RestoreTest(ctx); return err }},
		{"page-check", orDuration(o.PageCheckEvery, DefaultPageCheckEvery), s.checkPage},
	} {
		t := time.NewTicker(job.every)
		wg.Go(func() {
			defer t.Stop()
			runEvery(ctx, t.C, job.name, job.run, s.Env.Log)
		})
	}
	s.stopSchedules = func() { cancel(); wg.Wait() }
	return nil
}

// runEvery runs job on every tick until ctx ends. A run that fails is logged (the job reports its own
// failures too) and the next tick runs it again, as EventBridge would.
func runEvery(ctx context.Context, ticks <-chan time.Time, name string, job func(context.Context) error, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			log.Info("scheduled run", "job", name)
			if err := job(ctx); err != nil {
				log.Error("scheduled run failed", "job", name, "error", err)
			}
		}
	}
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
