package templatetests

import (
	"slices"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/infra/stacks"
)

// TestContinuationGrants: the backup and restore-test functions may invoke themselves, each only
// itself, to continue a run past one invocation; no other function may invoke any function.
func TestContinuationGrants(t *testing.T) {
	for _, f := range stacks.Functions {
		t.Run(f.Name, func(t *testing.T) {
			fnID, _ := function(t, f.Name)
			_, statements := policyOf(t, f.Name)
			var invokes []string
			for _, s := range statements {
				st, _ := s.(map[string]any)
				actions, ok := st["Action"].([]any)
				if !ok {
					actions = []any{st["Action"]}
				}
				for _, a := range actions {
					if a, _ := a.(string); strings.HasPrefix(a, "lambda:") {
						invokes = append(invokes, text(st["Action"])+" | "+text(st["Resource"]))
					}
				}
			}
			var want []string
			if slices.Contains(f.Touches, stacks.ContinueSelf) {
				want = []string{"lambda:InvokeFunction | " + text(getAtt(fnID, "Arn"))}
			}
			if !slices.Equal(invokes, want) {
				t.Errorf("lambda statements of %s: %q, want %q", f.Name, invokes, want)
			}
		})
	}
	for _, name := range []string{"backup", "restore-test"} {
		if f := stacks.Functions[slices.IndexFunc(stacks.Functions, func(f stacks.Function) bool { return f.Name == name })]; !slices.Contains(f.Touches, stacks.ContinueSelf) {
			t.Errorf("%s cannot continue a run past one invocation", name)
		}
	}
}
