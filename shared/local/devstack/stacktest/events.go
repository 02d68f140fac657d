package stacktest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/routes"
)

// eventsDir is the repository's events/ folder: the sample events `vaultbill invoke` runs.
func eventsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "events")
}

// SampleEvents are the names (without ".json") of the sample events of function in events/<function>.
func SampleEvents(t testing.TB, function string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(eventsDir(), function, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events in events/%s (%v)", function, err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".json")
	}
	return names
}

// SampleEvent reads the sample event events/<function>/<name>.json as the API Gateway request it
// holds, with each old, new pair of replace applied to its text first, and fails the test unless it
// requests one of function's routes. It returns the request and its route.
func SampleEvent(t testing.TB, function, name string, replace ...string) (events.APIGatewayProxyRequest, routes.Route) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(eventsDir(), function, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayProxyRequest
	if err := json.Unmarshal([]byte(strings.NewReplacer(replace...).Replace(string(raw))), &req); err != nil {
		t.Fatalf("%s: not a proxy request: %v", name, err)
	}
	r, ok := routes.Lookup(req.HTTPMethod, req.Resource)
	if !ok || r.Function != function {
		t.Fatalf("%s: %s %s is not a %s route", name, req.HTTPMethod, req.Resource, function)
	}
	return req, r
}

// CheckSampled fails the test for each route of function whose operation covered does not hold: every
// route has a sample event.
func CheckSampled(t testing.TB, function string, covered map[string]bool) {
	t.Helper()
	for _, r := range routes.All {
		if r.Function == function && !covered[r.Operation] {
			t.Errorf("no sample event for %s", r.Operation)
		}
	}
}

// CheckReplayed sends req, which serve answered first, once more and checks that its Idempotency-Key
// replays that answer.
func CheckReplayed(t testing.TB, name string, serve func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), req events.APIGatewayProxyRequest, first events.APIGatewayProxyResponse) {
	t.Helper()
	again, err := serve(context.Background(), req)
	if err != nil || again.StatusCode != first.StatusCode || again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("%s replayed: %d %s %v", name, again.StatusCode, again.Body, again.Headers)
	}
}
