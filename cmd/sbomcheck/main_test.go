package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffReportsMissingAndExtraModules(t *testing.T) {
	want := map[string]bool{"std@go1.26.10": true, "github.com/aws/smithy-go@v1.28.9": true}
	got := map[string]bool{"std@go1.26.8": true, "github.com/aws/smithy-go@v1.28.9": true}
	d := diff("me.cdx.json", want, got)
	if len(d) != 2 || !strings.Contains(d[0], "does not name std@go1.26.10") || !strings.Contains(d[1], "names std@go1.26.8") {
		t.Errorf("diff = %q", d)
	}
	if d := diff("me.cdx.json", want, want); len(d) != 0 {
		t.Errorf("equal sets: %q", d)
	}
}

func TestLockedPackagesNamesNestedPackages(t *testing.T) {
	name := filepath.Join(t.TempDir(), "package-lock.json")
	lock := `{"lockfileVersion":3,"packages":{"":{"name":"vaultbill-infra"},
		"node_modules/aws-cdk":{"version":"2.1148.1"},
		"node_modules/@scope/a/node_modules/b":{"version":"1.0.0"}}}`
	if err := os.WriteFile(name, []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := lockedPackages(name)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]bool{"aws-cdk@2.1148.1": true, "b@1.0.0": true}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestReadBOMRefusesWhatIsNotCycloneDX(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"spdx.json":  `{"spdxVersion":"SPDX-2.3","packages":[{"name":"x"}]}`,
		"empty.json": `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readBOM(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := readBOM(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing SBOM accepted")
	}
}
