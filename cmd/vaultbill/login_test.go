package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/vaultbill/vaultbill/shared/adapters/userpool"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestLoginNonInteractive signs an invited user in as a script would (--password-stdin,
// --totp-secret-file): the first sign-in replaces the temporary password and enrolls TOTP, the
// second answers the TOTP challenge; both tokens work against the API, and no password is printed.
func TestLoginNonInteractive(t *testing.T) {
	s := stacktest.New(t)
	admin := stacktest.Token(t, s, devstack.TokenSpec{Role: "admin"})
	if resp, body := stacktest.Do(t, s, "POST", "/v1/users", admin, `{"email":"cli@example.com","role":"payments"}`); resp.StatusCode != 201 {
		t.Fatalf("invite: %d %s", resp.StatusCode, body)
	}
	api := cip.NewFromConfig(s.Env.AWS)
	username, err := userpool.UsernameFor(context.Background(), api, s.Pool.ID, "cli@example.com")
	if err != nil {
		t.Fatal(err)
	}
	temp := userpool.TemporaryPassword()
	if err := userpool.SetTemporaryPassword(context.Background(), api, s.Pool.ID, username, temp); err != nil {
		t.Fatal(err)
	}
	const chosen = "Script-Chosen-Pass-42!"
	o := loginOptions{email: "cli@example.com", username: username, passwordStdin: true, totpSecretFile: filepath.Join(t.TempDir(), "totp")}
	for i, stdin := range []string{temp + "\n" + chosen + "\n", chosen + "\n"} {
		var out bytes.Buffer
		tok, err := login(context.Background(), api, s.Pool.ClientID, o, strings.NewReader(stdin), &out)
		if err != nil {
			t.Fatalf("sign-in %d: %v\n%s", i+1, err, out.String())
		}
		if strings.Contains(out.String(), temp) || strings.Contains(out.String(), chosen) {
			t.Errorf("sign-in %d printed a password: %s", i+1, out.String())
		}
		if i == 0 && !strings.Contains(out.String(), "TOTP enrolled") {
			t.Errorf("first sign-in did not enroll TOTP: %s", out.String())
		}
		if resp, body := stacktest.Do(t, s, "GET", "/v1/me", tok.ID, ""); resp.StatusCode != 200 || !strings.Contains(body, `"role":"payments"`) {
			t.Errorf("sign-in %d token: %d %s", i+1, resp.StatusCode, body)
		}
	}
}
