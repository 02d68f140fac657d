package users_test

import (
	"context"
	"encoding/json"
	"testing"

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
	if files := stacktest.SampleEvents(t, routes.Users); len(files) != len(order) {
		t.Errorf("%d sample events, the test runs %d", len(files), len(order))
	}
	covered := map[string]bool{}
	var created []string // the invited user's id in place of sampleUser, once it is known
	for _, name := range order {
		req, r := stacktest.SampleEvent(t, routes.Users, name, created...)
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
			created = []string{sampleUser, u.ID}
		}
	}
	stacktest.CheckSampled(t, routes.Users, covered)
}
