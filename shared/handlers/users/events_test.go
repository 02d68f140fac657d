package users_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/users"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	userswiring "github.com/vaultbill/vaultbill/shared/wiring/users"
)

// sampleUser is the user id the sample events name. A pool assigns subs itself, so the test puts the
// id of the user create-user.json invites in its place.
const sampleUser = "3f1c2b9e-8a4d-4e6f-9b1a-2c3d4e5f6a7b"

// TestSampleEvents runs the users function, as wired for Lambda, on every sample event in events/users.
func TestSampleEvents(t *testing.T) {
	s := stacktest.New(t)
	svc, err := wiring.API(s.Env, routes.Users, userswiring.Register)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"create-user", "list-users", "get-user", "update-user", "sign-out-user", "disable-user", "enable-user"}
	files, _ := filepath.Glob("../../../events/users/*.json")
	if len(files) != len(order) {
		t.Errorf("%d sample events, the test runs %d", len(files), len(order))
	}
	covered := map[string]bool{}
	id := ""
	for _, name := range order {
		raw, err := os.ReadFile("../../../events/users/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if id != "" {
			raw = []byte(strings.ReplaceAll(string(raw), sampleUser, id))
		}
		var req events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			t.Fatalf("%s: not a proxy request: %v", name, err)
		}
		r, ok := routes.Lookup(req.HTTPMethod, req.Resource)
		if !ok || r.Function != routes.Users {
			t.Fatalf("%s: %s %s is not a users route", name, req.HTTPMethod, req.Resource)
		}
		covered[r.Operation] = true
		resp, err := svc.Serve(context.Background(), req)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("%s: %d %s (%v)", name, resp.StatusCode, resp.Body, err)
		}
		if name == "create-user" {
			var u users.User
			if err := json.Unmarshal([]byte(resp.Body), &u); err != nil {
				t.Fatal(err)
			}
			id = u.ID
		}
	}
	for _, r := range routes.All {
		if r.Function == routes.Users && !covered[r.Operation] {
			t.Errorf("no sample event for %s", r.Operation)
		}
	}
}
