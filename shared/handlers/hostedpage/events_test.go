package hostedpage_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/wiring"
	hostedpagewiring "github.com/vaultbill/vaultbill/shared/wiring/hostedpage"
)

// The sample events in events/hosted-page run through the function as `vaultbill invoke hosted-page`
// runs them: the asset is served, the page of a link never issued is the refusal page, and the link
// to an invoice that does not exist is a 404.
func TestSampleEvents(t *testing.T) {
	e := newEnv(t)
	svc, err := wiring.API(e.s.Env, routes.HostedPage, hostedpagewiring.Register)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"get-asset.json": 200, "get-page.json": 404, "create-link.json": 404, "csp-report.json": 404}
	files, _ := filepath.Glob("../../../events/hosted-page/*.json")
	if len(files) != len(want) {
		t.Fatalf("events/hosted-page has %d files, want %d", len(files), len(want))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		resp, err := svc.Serve(t.Context(), ev)
		if err != nil || resp.StatusCode != want[filepath.Base(f)] {
			t.Errorf("%s: %d %v, want %d; body %.200s", f, resp.StatusCode, err, want[filepath.Base(f)], resp.Body)
		}
	}
}
