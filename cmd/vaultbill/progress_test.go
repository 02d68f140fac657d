package main

import (
	"os"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

// TestProgressOffTerminal: output sent to a file or a pipe (CI logs, `2> log`) gets plain lines, no
// bar and no terminal escapes, and each finished phase its final line.
func TestProgressOffTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := newProgress(f)
	m := &backup.Meter{Table: "billing", Phase: "backup", TotalItems: 10, TotalParts: 2}
	p.Observe(m, false)
	m.Items.Store(10)
	m.Bytes.Store(2048)
	m.Parts.Store(2)
	p.Observe(m, true)
	p.Close()
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if want := "billing  backup  10 items  2.0 KiB  2/2 parts  done\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if strings.Contains(string(out), "\x1b") || strings.Contains(string(out), "\r") {
		t.Errorf("terminal control characters in plain output: %q", out)
	}
}

// TestDevNullIsNotATerminal: /dev/null is a character device, but nobody watches it redraw.
func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("isTerminal(/dev/null) = true")
	}
}
