package templatetests

import (
	"os/exec"
	"strings"
	"testing"
)

// cdkAppMayImport are the packages of ours the CDK app may link: the contract between the
// infrastructure and the runtime (shared/ops/resources: resources, item and object key prefixes, KMS
// purposes, metric and rule names; shared/api/config: the environment's names), the route table,
// the problem+json bodies of the gateway's own refusals (shared/api/httpapi, with the logging it
// redacts with), and the domain. No adapter, handler, operation or local-only package: the app
// describes the infrastructure, and a runtime package's constant the app needs lives in resources.
var cdkAppMayImport = []string{
	"shared/ops/resources",
	"shared/api/config",
	"shared/api/routes",
	"shared/api/httpapi",
	"shared/api/logging",
	"shared/domain/",
}

func TestCDKAppImportsOnlyTheContract(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../infra/...").Output()
	if err != nil {
		t.Fatalf("go list -deps ../infra/...: %v", err)
	}
	const module = "github.com/vaultbill/vaultbill/"
	for _, p := range strings.Fields(string(out)) {
		rest, ok := strings.CutPrefix(p, module)
		if !ok || !strings.HasPrefix(rest, "shared/") {
			continue // a library, or the app itself
		}
		allowed := false
		for _, a := range cdkAppMayImport {
			if rest == a || strings.HasSuffix(a, "/") && strings.HasPrefix(rest, a) {
				allowed = true
			}
		}
		if !allowed {
			t.Errorf("the CDK app links %s; move the constant it needs to shared/ops/resources", p)
		}
	}
}
