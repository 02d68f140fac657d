// Package emulator finds or starts the local AWS emulator: whatever answers at AWS_ENDPOINT_URL
// (LocalStack, a running moto) is used as is; otherwise moto_server is started on that port.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// DefaultEndpoint is LocalStack's port, so either emulator works without configuration.
const DefaultEndpoint = "http://127.0.0.1:4566"

// InstallHint tells the user how to get moto when it is missing.
const InstallHint = `python3 -m pip install "moto[server]>=5.1"`

// Endpoint returns AWS_ENDPOINT_URL, or DefaultEndpoint.
func Endpoint() string {
	if e := os.Getenv("AWS_ENDPOINT_URL"); e != "" {
		return e
	}
	return DefaultEndpoint
}

// Emulator is a running emulator; Stop ends it if this process started it.
type Emulator struct {
	Endpoint string
	// Started is true when this process started moto_server (and so must stop it).
	Started bool
	cmd     *exec.Cmd
	done    chan struct{}
}

// Ensure returns the emulator at endpoint, starting moto_server there if nothing answers.
// Its output goes to logw.
func Ensure(ctx context.Context, endpoint string, logw io.Writer) (*Emulator, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("AWS_ENDPOINT_URL %q is not a URL like %s", endpoint, DefaultEndpoint)
	}
	if answers(u.Host) {
		return &Emulator{Endpoint: endpoint}, nil
	}
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("nothing answers at %s and moto_server is not installed: install it with\n  %s\nor start LocalStack on that port", endpoint, InstallHint)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("AWS_ENDPOINT_URL %q needs an explicit port: %w", endpoint, err)
	}
	cmd := exec.Command(bin, "-H", host, "-p", port)
	cmd.Stdout, cmd.Stderr = logw, logw
	// moto checks TOTP codes (against the one secret it hands every user) only when told to; without
	// this any code would pass, and the local login would prove nothing about the second factor.
	cmd.Env = append(os.Environ(), "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true")
	// Its own process group, so a Ctrl-C aimed at us is handled by us, and Stop ends moto cleanly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	e := &Emulator{Endpoint: endpoint, Started: true, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(e.done) }()
	if err := e.waitReady(ctx, u); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// waitReady polls until moto answers HTTP, it exits, or 30 s pass (first start imports a lot of Python).
func (e *Emulator) waitReady(ctx context.Context, u *url.URL) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String()+"/moto-api/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-e.done:
			return errors.New("moto_server exited during start-up; is the port free? see its output above")
		case <-ctx.Done():
			return fmt.Errorf("moto_server did not answer at %s within 30s", u)
		case <-tick.C:
		}
	}
}

// Stop ends moto_server if this process started it.
func (e *Emulator) Stop() {
	if e == nil || !e.Started || e.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.done
	}
}

func answers(hostport string) bool {
	c, err := net.DialTimeout("tcp", hostport, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// FreeEndpoint returns an endpoint URL on a free loopback port, for tests that start their own moto.
func FreeEndpoint() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return "http://" + l.Addr().String(), nil
}
