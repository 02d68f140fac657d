package users_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/pquerna/otp/totp"

	"github.com/vaultbill/vaultbill/shared/adapters/userpool"
	"github.com/vaultbill/vaultbill/shared/handlers/users"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// person is a pool user signing in as `vaultbill login` does: a password, and an authenticator app
// holding the TOTP secret enrolled at the first sign-in.
type person struct {
	t                   *testing.T
	email, password     string
	username            string // the pool's username for email (the emulator resolves no alias)
	secret              string
	enrolled, codeAsked int
}

func (p *person) NewPassword() (string, error) {
	p.password = "Correct-Horse-9-" + p.email[:3]
	return p.password, nil
}

func (p *person) EnrollTOTP(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" {
		return "", errors.New("not an otpauth URI")
	}
	p.secret = u.Query().Get("secret")
	p.enrolled++
	return totp.GenerateCode(p.secret, time.Now())
}

func (p *person) Code() (string, error) {
	p.codeAsked++
	return totp.GenerateCode(p.secret, time.Now())
}

type fixture struct {
	t     *testing.T
	s     *devstack.Stack
	pool  *cip.Client
	admin string // a locally minted admin token
}

func newFixture(t *testing.T) *fixture {
	dumpLogsOnFailure(t)
	s := stacktest.New(t)
	return &fixture{t: t, s: s, pool: cip.NewFromConfig(s.Env.AWS),
		admin: stacktest.Token(t, s, devstack.TokenSpec{Role: "admin", Subject: "admin-ada"})}
}

// invite creates a user through the API and gives it a temporary password as the operator CLI does.
func (f *fixture) invite(email, role, customer string) (users.User, *person) {
	f.t.Helper()
	body := `{"email":"` + email + `","role":"` + role + `"`
	if customer != "" {
		body += `,"customer_id":"` + customer + `"`
	}
	resp, out := stacktest.Do(f.t, f.s, "POST", "/v1/users", f.admin, body+"}")
	if resp.StatusCode != 201 {
		f.t.Fatalf("invite %s: %d %s", email, resp.StatusCode, out)
	}
	var u users.User
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		f.t.Fatal(err)
	}
	username, err := userpool.UsernameFor(context.Background(), f.pool, f.s.Pool.ID, email)
	if err != nil {
		f.t.Fatal(err)
	}
	temp := userpool.TemporaryPassword()
	if err := userpool.SetTemporaryPassword(context.Background(), f.pool, f.s.Pool.ID, username, temp); err != nil {
		f.t.Fatal(err)
	}
	return u, &person{t: f.t, email: email, username: username, password: temp}
}

func (f *fixture) login(p *person) (userpool.Tokens, error) {
	return userpool.Login(context.Background(), f.pool, f.s.Pool.ClientID, p.username, p.email, p.password, p)
}

func (f *fixture) mustLogin(p *person) string {
	f.t.Helper()
	tok, err := f.login(p)
	if err != nil {
		f.t.Fatalf("login %s: %v", p.email, err)
	}
	return tok.ID
}

// me calls GET /v1/me with token and returns the status and the role the API saw.
func (f *fixture) me(token string) (int, string) {
	f.t.Helper()
	resp, body := stacktest.Do(f.t, f.s, "GET", "/v1/me", token, "")
	var m struct {
		Role string `json:"role"`
		MFA  bool   `json:"mfa"`
	}
	_ = json.Unmarshal([]byte(body), &m)
	if resp.StatusCode == 200 && !m.MFA {
		f.t.Errorf("pool token accepted without MFA proof: %s", body)
	}
	return resp.StatusCode, m.Role
}

// nextSecond waits for the wall clock to pass the session epoch a revocation just wrote. Token times
// are whole seconds, so a sign-in in the revocation's own second is refused by design (shared/adapters/sessions);
// this is the emulator's clock resolution, not a timing assumption about the system under test.
func nextSecond() {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
}

func TestLocalPoolMatchesDeployedSettings(t *testing.T) {
	f := newFixture(t)
	if !f.s.Pool.MFARequired {
		t.Fatal("the local user pool does not require MFA")
	}
	if got := f.s.Env.Config.Lookup("MFA_POOL_ISSUERS"); got != f.s.Pool.Issuer {
		t.Errorf("MFA_POOL_ISSUERS = %q; want the pool's issuer %q", got, f.s.Pool.Issuer)
	}
	// The password policy is the deployed pool's: a short password is refused at the first sign-in.
	_, p := f.invite("pat@example.com", "billing", "")
	weak := &weakPerson{person: p}
	if _, err := userpool.Login(context.Background(), f.pool, f.s.Pool.ClientID, p.username, p.email, p.password, weak); err == nil ||
		!strings.Contains(err.Error(), "Password") {
		t.Errorf("a 9-character password was accepted: %v", err)
	}
}

type weakPerson struct{ *person }

func (weakPerson) NewPassword() (string, error) { return "Short-1!a", nil }

// TestInviteLoginRevokeLifecycle is the whole life of a pool user: invitation, first sign-in with a
// new password and TOTP enrollment, API calls with the pool's token, and every earlier token refused
// after a role change and after disable; enabling lets the user sign in again.
func TestInviteLoginRevokeLifecycle(t *testing.T) {
	f := newFixture(t)
	u, bob := f.invite("bob@example.com", "billing", "")
	if u.Status != "invited" || u.Role != "billing" || u.MFAEnabled || u.CustomerID != nil {
		t.Fatalf("invited user: %+v", u)
	}

	first := f.mustLogin(bob)
	if bob.enrolled != 1 {
		t.Fatalf("first sign-in enrolled TOTP %d times", bob.enrolled)
	}
	if code, role := f.me(first); code != 200 || role != "billing" {
		t.Fatalf("pool token: %d %s", code, role)
	}
	resp, body := stacktest.Do(t, f.s, "GET", "/v1/users/"+u.ID, f.admin, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"status":"active"`) || !strings.Contains(body, `"mfa_enabled":true`) {
		t.Fatalf("user after first sign-in: %d %s", resp.StatusCode, body)
	}
	// A wrong TOTP code is refused.
	liar := &person{email: bob.email, username: bob.username, password: bob.password, secret: "JBSWY3DPEHPK3PXP"}
	if _, err := f.login(liar); err == nil {
		t.Error("sign-in with a code from another secret succeeded")
	}

	resp, body = stacktest.Do(t, f.s, "PATCH", "/v1/users/"+u.ID, f.admin, `{"role":"auditor"}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"role":"auditor"`) {
		t.Fatalf("role change: %d %s", resp.StatusCode, body)
	}
	if code, _ := f.me(first); code != 401 {
		t.Errorf("token from before the role change: %d; want 401", code)
	}
	nextSecond()
	second := f.mustLogin(bob)
	if bob.codeAsked != 1 || bob.enrolled != 1 {
		t.Errorf("second sign-in: code asked %d, enrolled %d", bob.codeAsked, bob.enrolled)
	}
	if code, role := f.me(second); code != 200 || role != "auditor" {
		t.Fatalf("token after role change: %d %s", code, role)
	}

	if resp, body := stacktest.Do(t, f.s, "POST", "/v1/users/"+u.ID+"/disable", f.admin, ""); resp.StatusCode != 200 ||
		!strings.Contains(body, `"status":"disabled"`) {
		t.Fatalf("disable: %d %s", resp.StatusCode, body)
	}
	if code, _ := f.me(second); code != 401 {
		t.Errorf("token of a disabled user: %d; want 401", code)
	}
	if _, err := f.login(bob); err == nil {
		t.Error("a disabled user signed in")
	}
	if resp, body := stacktest.Do(t, f.s, "POST", "/v1/users/"+u.ID+"/enable", f.admin, ""); resp.StatusCode != 200 ||
		!strings.Contains(body, `"status":"active"`) {
		t.Fatalf("enable: %d %s", resp.StatusCode, body)
	}
	if code, _ := f.me(second); code != 401 {
		t.Errorf("enabling brought a revoked token back: %d", code)
	}
	nextSecond()
	third := f.mustLogin(bob)
	if code, role := f.me(third); code != 200 || role != "auditor" {
		t.Fatalf("token after enable: %d %s", code, role)
	}
	if resp, _ := stacktest.Do(t, f.s, "POST", "/v1/users/"+u.ID+"/sign-out", f.admin, ""); resp.StatusCode != 200 {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if code, _ := f.me(third); code != 401 {
		t.Errorf("token after sign-out: %d; want 401", code)
	}
	// Every change has its audit record, naming the user.
	changes := map[string]int{}
	for _, r := range f.auditRecords() {
		if r.ErrorCode == "" && strings.Contains(recResources(r), "user:"+u.ID) && !r.ReadOnly {
			changes[r.EventName]++
		}
	}
	for _, op := range []string{"CreateUser", "UpdateUser", "DisableUser", "EnableUser", "SignOutUser"} {
		if changes[op] != 1 {
			t.Errorf("%d audit records of %s for the user; want 1 (all: %v)", changes[op], op, changes)
		}
	}
}

func dumpLogsOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range strings.Split(stacktest.Logs.String(), "\n") {
				if strings.Contains(l, `"level":"ERROR"`) {
					t.Log(l)
				}
			}
		}
	})
}
