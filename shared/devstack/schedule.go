package devstack

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vaultbill/vaultbill/shared/backup"
)

// The local stand-ins for the EventBridge schedules of the backup and restore-test functions.
const (
	DefaultBackupEvery      = 24 * time.Hour
	DefaultRestoreTestEvery = 7 * 24 * time.Hour
)

// startSchedules runs the backup daily and the restore test weekly (or as often as o says) until
// Stop. Each runs the same runner its Lambda function does.
func (s *Stack) startSchedules(o Options) error {
	b, err := backup.FromEnv(s.FunctionEnv("backup"), backup.BackupPrincipal)
	if err != nil {
		return err
	}
	rt, err := backup.RestoreTestFromEnv(s.FunctionEnv("restore-test"), backup.RestoreTestPrincipal)
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
