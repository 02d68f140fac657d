// Package stacktest gives integration tests a real local stack on the AWS emulator: one moto_server per
// test binary (or the emulator at AWS_ENDPOINT_URL), and a freshly provisioned, uniquely named stack
// per test.
package stacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/emulator"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

var (
	endpoint string
	started  *emulator.Emulator
	setupErr error
)

// Main runs a package's tests around one emulator. Use it from TestMain.
func Main(m *testing.M) {
	endpoint = os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		if _, err := exec.LookPath("moto_server"); err != nil {
			setupErr = fmt.Errorf("moto_server is not installed (%s)", emulator.InstallHint)
		} else if endpoint, setupErr = emulator.FreeEndpoint(); setupErr == nil {
			started, setupErr = emulator.Ensure(context.Background(), endpoint, io.Discard)
		}
	}
	code := m.Run()
	started.Stop()
	os.Exit(code)
}

// Endpoint returns the emulator's endpoint, or skips the test when there is none. In CI a missing
// emulator fails instead, so the integration tests can never silently stop running.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	if setupErr != nil || endpoint == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("AWS emulator unavailable in CI: %v (did the package's TestMain call stacktest.Main?)", setupErr)
		}
		tb.Skipf("skipping integration test: AWS emulator unavailable: %v", setupErr)
	}
	return endpoint
}

// New starts a stack with its own resource names and a gateway on a free loopback port.
func New(tb testing.TB) *devstack.Stack {
	tb.Helper()
	ep := Endpoint(tb)
	s, err := devstack.Start(context.Background(), devstack.Options{
		Endpoint: ep,
		Addr:     "127.0.0.1:0",
		StateDir: tb.TempDir(),
		Names:    resources.Names{Prefix: UniquePrefix()},
		Log:      Logger(tb),
		Metrics:  Logs,
		// Tests drive the audit workers themselves (s.Audit.ShipNow, DigestNow): no timing involved.
		AuditPoll: -1,
	})
	if err != nil {
		tb.Fatalf("start local stack: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// UniquePrefix returns a fresh resource name prefix such as "t3f2a1b4c-".
func UniquePrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:]) + "-"
}

// Token mints a token for the stack or fails the test.
func Token(tb testing.TB, s *devstack.Stack, spec devstack.TokenSpec) string {
	tb.Helper()
	tok, err := s.Token(spec)
	if err != nil {
		tb.Fatalf("mint token: %v", err)
	}
	return tok
}

// Do sends a request to the stack's gateway with a bearer token (none when token is "") and returns
// the response and its body.
func Do(tb testing.TB, s *devstack.Stack, method, path, token, body string, headers ...string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read %s %s: %v", method, path, err)
	}
	CheckContract(tb, req, resp, string(b))
	return resp, string(b)
}
