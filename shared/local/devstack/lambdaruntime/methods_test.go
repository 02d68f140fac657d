package lambdaruntime

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestFunctionsDoNotLinkTemplates: text/template (and html/template over it) looks fields up with
// reflect.Value.MethodByName, which obliges the linker to keep every exported method of every type in
// the binary: linked into the hosted page it added 3.4 MiB of SDK operations the function never calls.
// make build's 9 MiB budget would catch the growth; this names the cause.
func TestFunctionsDoNotLinkTemplates(t *testing.T) {
	out, err := exec.CommandContext(context.Background(), "go", "list", "-deps", "-tags", "lambda.norpc",
		"-f", `{{.ImportPath}}: {{join .Deps " "}}`, "../../../../functions/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fn, deps, _ := strings.Cut(line, ": ")
		if !strings.Contains(fn, "/functions/") {
			continue
		}
		for _, d := range strings.Fields(deps) {
			if d == "text/template" || d == "html/template" {
				t.Errorf("%s links %s", fn, d)
			}
		}
	}
}
