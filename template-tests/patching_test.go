package templatetests

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// TestRuntimesArePatchedAutomatically pins how the Lambda runtime under the functions is patched: on
// provided.al2023 with runtime management Auto, AWS rolls out the runtime's security patches itself. A
// function left on Manual (a pinned runtime version) or FunctionUpdate (patched only when redeployed) would
// keep running a runtime with known vulnerabilities. The Go inside each bootstrap is patched by rebuilding
// with the Makefile's GO_RELEASE, checked by make vulncheck.
func TestRuntimesArePatchedAutomatically(t *testing.T) {
	want := map[string]any{"Runtime": "provided.al2023", "RuntimeManagementConfig": map[string]any{"UpdateRuntimeOn": "Auto"}}
	for _, f := range stacks.Functions {
		t.Run(f.Name, func(t *testing.T) {
			_, fn := function(t, f.Name)
			got := map[string]any{"Runtime": fn.Properties["Runtime"], "RuntimeManagementConfig": fn.Properties["RuntimeManagementConfig"]}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	// Functions the CDK adds itself (custom resources) take the default, Auto; none may pin a runtime version.
	for name, d := range doc {
		for _, id := range d.ofType("AWS::Lambda::Function") {
			if mode := cfn.Get(d.Resources[id].Properties, "RuntimeManagementConfig", "UpdateRuntimeOn"); mode != nil && mode != "Auto" {
				t.Errorf("%s %s: runtime updates %v, want Auto", name, id, mode)
			}
		}
	}
}
