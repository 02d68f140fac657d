package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, files ...string) (string, bool) {
	t.Helper()
	for i, f := range files {
		files[i] = filepath.Join("testdata", f)
	}
	r, err := readReports(files)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ok := r.print(&out)
	return out.String(), ok
}

func TestReachableVulnerabilityFailsNamingAdvisoryFixAndBump(t *testing.T) {
	out, ok := run(t, "me.json", "source.json")
	if ok {
		t.Fatalf("a reachable vulnerability passed:\n%s", out)
	}
	for _, want := range []string{
		"GO-2026-6809  Distrust compromised intermediate certificates in crypto/x509",
		"found:   stdlib go1.26.8 (crypto/x509.Certificate.Verify)",
		"fixed:   go1.26.10",
		"reached: shared/adapters/idempotency/idempotency.go:78 (github.com/vaultbill/vaultbill/shared/adapters/idempotency.Fingerprint)",
		"in:      me, source",
		"GO-2026-6617", "fixed:   go1.26.9",
		// the highest fixed release fixes both
		"to fix them all:\n  the Go release: GO_RELEASE := go1.26.10 in the Makefile\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Imported but never called: not a failure, and not listed among the reachable ones.
	if strings.Contains(out, "GO-2026-6599") {
		t.Errorf("an unreached advisory is reported as reachable:\n%s", out)
	}
}

func TestUnreachedVulnerabilityPasses(t *testing.T) {
	out, ok := run(t, "clean.json")
	if !ok {
		t.Fatalf("a vulnerability whose code is never called failed the run:\n%s", out)
	}
	if !strings.Contains(out, "no reachable vulnerability in 1 targets (clean)") || !strings.Contains(out, "GO-2026-7001") {
		t.Errorf("report:\n%s", out)
	}
}

func TestModuleBumpIsGoGet(t *testing.T) {
	if got, want := bump("golang.org/x/net", "v0.45.0"), "go get golang.org/x/net@v0.45.0 && go mod tidy"; got != want {
		t.Errorf("bump = %q, want %q", got, want)
	}
}

func TestNotAReportIsAnError(t *testing.T) {
	name := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(name, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readReports([]string{name}); err == nil {
		t.Error("a file without govulncheck's config message was accepted")
	}
}

func TestSemverLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"", "v1.0.0", true}, {"v1.26.9", "v1.26.10", true}, {"v1.26.10", "v1.26.9", false}, {"v1.27.0", "v1.26.10", false}} {
		if got := semverLess(c.a, c.b); got != c.want {
			t.Errorf("semverLess(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
