package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/vaultbill/vaultbill/shared/adapters/awsconfig/workstation"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
)

// operatorRunner builds the backup runner for a command at the terminal. With BACKUP_BUCKET in the
// environment it works on the AWS resources the environment names (an operator's shell); otherwise on
// the local stack (`make dev`), provisioning it if needed.
func operatorRunner(ctx context.Context, w io.Writer) (*backup.Runner, func(), error) {
	log := cliLogger()
	principal := "cli:" + osUser()
	if os.Getenv(config.EnvBackupBucket) != "" {
		env, err := operatorEnv(ctx, log)
		if err != nil {
			return nil, nil, err
		}
		r, err := backupwiring.NewRestoreTest(env, principal)
		if err != nil {
			return nil, nil, err
		}
		r.Metrics = nil // EMF lines are read from Lambda's logs only
		fmt.Fprintf(w, "using %s in %s\n", env.Config.BackupBucket, env.Config.Region)
		return r, func() {}, nil
	}
	s, err := devstack.Start(ctx, devstack.Options{StateDir: devstack.StateDir(), Names: resources.LocalNames, Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("%w (start the local stack with `make dev`, or set %s and AWS credentials to work on AWS)", err, config.EnvBackupBucket)
	}
	r, err := backupwiring.NewRestoreTest(s.Env, principal)
	if err != nil {
		s.Stop()
		return nil, nil, err
	}
	r.Metrics = nil
	fmt.Fprintf(w, "using the local stack at %s\n", s.Emulator.Endpoint)
	return r, s.Stop, nil
}

// withRunner runs job on the operator's backup runner, drawing its progress on stderr.
func withRunner[T any](ctx context.Context, job func(*backup.Runner) (T, error)) (T, error) {
	r, stop, err := operatorRunner(ctx, os.Stderr)
	if err != nil {
		var zero T
		return zero, err
	}
	defer stop()
	p := newProgress(os.Stderr)
	r.Observe = p.Observe
	res, err := job(r)
	p.Close()
	return res, err
}

// operatorEnv is a function environment for an operator's shell: the AWS resources its environment
// names, with credentials through the SDK's full chain (profiles, SSO).
func operatorEnv(ctx context.Context, log *slog.Logger) (wiring.Env, error) {
	cfg, err := workstation.Load(ctx)
	if err != nil {
		return wiring.Env{}, err
	}
	return wiring.NewEnv(cfg, log), nil
}

// cliLogger shows warnings and alerts only, unless LOG_LEVEL asks for more, so progress stays readable.
func cliLogger() *slog.Logger {
	if os.Getenv("LOG_LEVEL") != "" {
		return logging.FromEnv(os.Stderr)
	}
	return logging.New(os.Stderr, slog.LevelWarn)
}

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// progress draws backup.Meters: a progress bar (schollz/progressbar) on a terminal, a plain line every
// few seconds otherwise, and one final line per finished phase either way.
type progress struct {
	w      io.Writer
	tty    bool
	every  time.Duration
	mu     sync.Mutex
	active *backup.Meter
	bar    *progressbar.ProgressBar
	stop   chan struct{}
	done   chan struct{}
}

func newProgress(f *os.File) *progress {
	p := &progress{w: f, tty: isTerminal(f), every: 5 * time.Second, stop: make(chan struct{}), done: make(chan struct{})}
	if p.tty {
		p.every = 150 * time.Millisecond
	}
	go p.loop()
	return p
}

// isTerminal reports whether f is an interactive terminal. A character device is not enough:
// /dev/null is one too.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

// Observe is a backup.Runner's Observe hook.
func (p *progress) Observe(m *backup.Meter, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !done {
		p.active = m
		if p.tty {
			p.bar = newBar(p.w, m)
		}
		return
	}
	if p.bar != nil && p.active == m {
		_ = p.bar.Clear()
		p.bar = nil
	}
	fmt.Fprintln(p.w, render(m, true))
	if p.active == m {
		p.active = nil
	}
}

func newBar(w io.Writer, m *backup.Meter) *progressbar.ProgressBar {
	total := m.TotalItems
	if total <= 0 {
		total = -1 // unknown: a spinner
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("items"),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetDescription(fmt.Sprintf("%-8s %-7s", m.Table, m.Phase)),
	)
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if m := p.active; m != nil {
				if p.bar != nil {
					_ = p.bar.Set64(m.Items.Load())
					p.bar.Describe(fmt.Sprintf("%-8s %-7s %s", m.Table, m.Phase, details(m)))
				} else {
					fmt.Fprintln(p.w, render(m, false))
				}
			}
			p.mu.Unlock()
		}
	}
}

// Close stops drawing.
func (p *progress) Close() {
	close(p.stop)
	<-p.done
}

// render is the plain line of a meter: for logs and pipes, and the final line of each phase.
func render(m *backup.Meter, final bool) string {
	items, total := m.Items.Load(), m.TotalItems
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-7s ", m.Table, m.Phase)
	if total > 0 && !final {
		fmt.Fprintf(&b, "%3d%% %d/%d items", min(items*100/total, 100), items, total)
	} else {
		fmt.Fprintf(&b, "%d items", items)
	}
	if d := details(m); d != "" {
		b.WriteString("  " + d)
	}
	if final {
		b.WriteString("  done")
	}
	return b.String()
}

// details are the bytes and parts of a meter, which the bar shows beside its item count. An import
// counts cards only, a key rewrap or migration items only.
func details(m *backup.Meter) string {
	if m.Phase == importPhase || m.Phase == rewrapPhase || m.Phase == migratePhase {
		return ""
	}
	out := size(m.Bytes.Load())
	if m.Phase != "verify" {
		if m.TotalParts > 0 {
			out += fmt.Sprintf("  %d/%d parts", m.Parts.Load(), m.TotalParts)
		} else {
			out += fmt.Sprintf("  %d parts", m.Parts.Load())
		}
	}
	return out
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
