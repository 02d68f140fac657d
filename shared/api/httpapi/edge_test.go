package httpapi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// The deployed gateway responses are these templates; filled in the way API Gateway fills them, they
// must give exactly the bodies the local gateway serves.
func TestDeployedTemplatesRenderTheLocalBodies(t *testing.T) {
	const requestID = "c0ffee00-0000-4000-8000-000000000001"
	fill := func(tpl string, vars map[string]string) string {
		for k, v := range vars {
			tpl = strings.ReplaceAll(tpl, k, v)
		}
		return tpl
	}
	if d := cmp.Diff(UnauthorizedBody(requestID), fill(UnauthorizedTemplate(), map[string]string{"$context.requestId": requestID})); d != "" {
		t.Errorf("401 body (-local +deployed):\n%s", d)
	}
	for _, code := range []problem.Code{problem.MFARequired, problem.Forbidden} {
		title := problem.New(code, "").Title()
		local := DeniedBody(map[string]any{auth.CtxCode: string(code), auth.CtxTitle: title}, requestID)
		deployed := fill(AccessDeniedTemplate(), map[string]string{
			"$context.requestId":        requestID,
			"$context.authorizer.code":  string(code),
			"$context.authorizer.title": title,
		})
		if d := cmp.Diff(local, deployed); d != "" {
			t.Errorf("403 %s body (-local +deployed):\n%s", code, d)
		}
		if !strings.Contains(local, `"status":403`) || !strings.Contains(local, `"title":"`+title+`"`) {
			t.Errorf("403 %s body %s", code, local)
		}
	}
}
