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

	"github.com/vaultbill/vaultbill/shared/awsconfig/workstation"
	"github.com/vaultbill/vaultbill/shared/backup"
	"github.com/vaultbill/vaultbill/shared/config"
	"github.com/vaultbill/vaultbill/shared/devstack"
	"github.com/vaultbill/vaultbill/shared/logging"
	"github.com/vaultbill/vaultbill/shared/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
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
		r, err := backup.RestoreTestFromEnv(env, principal)
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
	r, err := backup.RestoreTestFromEnv(s.Env, principal)
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

// progress draws backup.Meters: a redrawn bar on a terminal, a plain line every few seconds otherwise.
type progress struct {
	w      io.Writer
	tty    bool
	every  time.Duration
	mu     sync.Mutex
	active *backup.Meter
	last   time.Time
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

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// Observe is a backup.Runner's Observe hook.
func (p *progress) Observe(m *backup.Meter, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !done {
		p.active, p.last = m, time.Now()
		return
	}
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, render(m, p.tty, true))
	if p.active == m {
		p.active = nil
	}
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
				if p.tty {
					fmt.Fprint(p.w, "\r\033[K"+render(m, true, false))
				} else {
					fmt.Fprintln(p.w, render(m, false, false))
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

func render(m *backup.Meter, bar, final bool) string {
	items, total := m.Items.Load(), m.TotalItems
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-7s ", m.Table, m.Phase)
	if bar {
		const width = 24
		filled := width
		if !final && total > 0 {
			filled = int(min(items, total) * width / total)
		}
		b.WriteString("[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "] ")
	}
	if total > 0 && !final {
		fmt.Fprintf(&b, "%3d%% %d/%d items", min(items*100/total, 100), items, total)
	} else {
		fmt.Fprintf(&b, "%d items", items)
	}
	fmt.Fprintf(&b, "  %s", size(m.Bytes.Load()))
	if m.Phase != "verify" {
		if m.TotalParts > 0 {
			fmt.Fprintf(&b, "  %d/%d parts", m.Parts.Load(), m.TotalParts)
		} else {
			fmt.Fprintf(&b, "  %d parts", m.Parts.Load())
		}
	}
	if final {
		b.WriteString("  done")
	}
	return b.String()
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
