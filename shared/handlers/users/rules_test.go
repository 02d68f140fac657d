package users_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/auditreview"
)

func (f *fixture) auditRecords() []audit.Record {
	f.t.Helper()
	db := dynamodb.NewFromConfig(f.s.Env.AWS)
	in := &dynamodb.ScanInput{TableName: aws.String(f.s.Env.Config.AuditTable)}
	var out []audit.Record
	for {
		res, err := db.Scan(context.Background(), in)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, item := range res.Items {
			rec, err := audit.Decode(item)
			if err != nil {
				f.t.Fatal(err)
			}
			out = append(out, rec)
		}
		if res.LastEvaluatedKey == nil {
			return out
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

func code(body string) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal([]byte(body), &p)
	return p.Code
}

// TestSeparationOfDutiesAndLastAdmin: no admin changes their own role or disables themselves (403);
// the last enabled admin cannot be demoted or disabled (409); once another admin exists, it can.
// Granting admin raises the privilege-elevation alert, and every change has its audit record.
func TestSeparationOfDutiesAndLastAdmin(t *testing.T) {
	f := newFixture(t)
	ann, _ := f.invite("ann@example.com", "admin", "")
	annTok := stacktest.Token(t, f.s, devstack.TokenSpec{Role: "admin", Subject: ann.ID})

	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/v1/users/" + ann.ID, `{"role":"billing"}`},
		{"POST", "/v1/users/" + ann.ID + "/disable", ""},
	} {
		if resp, body := stacktest.Do(t, f.s, c.method, c.path, annTok, c.body); resp.StatusCode != 403 || code(body) != "forbidden" {
			t.Errorf("%s %s by the admin themselves: %d %s; want 403 forbidden", c.method, c.path, resp.StatusCode, body)
		}
		if resp, body := stacktest.Do(t, f.s, c.method, c.path, f.admin, c.body); resp.StatusCode != 409 || code(body) != "invalid_state" {
			t.Errorf("%s %s of the last enabled admin: %d %s; want 409 invalid_state", c.method, c.path, resp.StatusCode, body)
		}
	}
	ben, _ := f.invite("ben@example.com", "billing", "")
	if resp, body := stacktest.Do(t, f.s, "PATCH", "/v1/users/"+ben.ID, annTok, `{"role":"admin"}`); resp.StatusCode != 200 {
		t.Fatalf("promote ben: %d %s", resp.StatusCode, body)
	}
	if resp, body := stacktest.Do(t, f.s, "POST", "/v1/users/"+ann.ID+"/disable", f.admin, ""); resp.StatusCode != 200 {
		t.Fatalf("disable ann with another admin enabled: %d %s", resp.StatusCode, body)
	}
	if resp, body := stacktest.Do(t, f.s, "PATCH", "/v1/users/"+ben.ID, f.admin, `{"role":"billing"}`); resp.StatusCode != 409 {
		t.Errorf("demote ben, now the last enabled admin: %d %s; want 409", resp.StatusCode, body)
	}

	// Every change is audited, naming the user; grants of admin name the role too.
	want := map[string]int{"CreateUser": 2, "UpdateUser": 1, "DisableUser": 1}
	got := map[string]int{}
	for _, r := range f.auditRecords() {
		if want[r.EventName] > 0 && r.ErrorCode == "" {
			got[r.EventName]++
			if !strings.Contains(recResources(r), "user:") {
				t.Errorf("%s record names no user: %+v", r.EventName, r.Resources)
			}
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%d successful %s records; want %d", got[k], k, n)
		}
	}
	if _, err := f.s.Audit.ShipNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := alertCount(auditreview.RulePrivilegeElevation, "principal:admin-ada"); n != 1 {
		t.Errorf("elevation alerts for admin-ada (invited ann as admin): %d; want 1", n)
	}
	if n := alertCount(auditreview.RulePrivilegeElevation, "principal:"+ann.ID); n != 1 {
		t.Errorf("elevation alerts for ann (promoted ben): %d; want 1", n)
	}
}

func recResources(r audit.Record) string {
	var b strings.Builder
	for _, x := range r.Resources {
		b.WriteString(x.Type + ":" + x.ID + " ")
	}
	return b.String()
}

func alertCount(rule, subject string) int {
	n := 0
	for _, line := range strings.Split(stacktest.Logs.String(), "\n") {
		var l struct{ Msg, Rule, Subject string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "audit alert" && l.Rule == rule && l.Subject == subject {
			n++
		}
	}
	return n
}

// TestBadInput: unknown role, malformed email, a customer user without an existing customer, a
// customer id on a staff user, an unknown field and a duplicate email are refused, and nothing is
// created in the pool.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	resp, body := stacktest.Do(t, f.s, "POST", "/v1/customers", f.admin, `{"name":"Acme","email":"ap@acme.test"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create customer: %d %s", resp.StatusCode, body)
	}
	var cus struct{ ID string }
	_ = json.Unmarshal([]byte(body), &cus)

	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"unknown role", `{"email":"x@example.com","role":"root"}`, 422, "validation_failed"},
		{"malformed email", `{"email":"not-an-email","role":"billing"}`, 422, "validation_failed"},
		{"email with a display name", `{"email":"Eve <eve@example.com>","role":"billing"}`, 422, "validation_failed"},
		{"customer user without customer", `{"email":"c1@example.com","role":"customer"}`, 422, "validation_failed"},
		{"customer user, no such customer", `{"email":"c2@example.com","role":"customer","customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`, 422, "validation_failed"},
		{"staff user with a customer", `{"email":"s@example.com","role":"billing","customer_id":"` + cus.ID + `"}`, 422, "validation_failed"},
		{"unknown field", `{"email":"u@example.com","role":"billing","admin":true}`, 400, "validation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := stacktest.Do(t, f.s, "POST", "/v1/users", f.admin, tt.body)
			if resp.StatusCode != tt.status || code(body) != tt.code {
				t.Errorf("got %d %s; want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
		})
	}
	resp, body = stacktest.Do(t, f.s, "GET", "/v1/users", f.admin, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"data":[]`) {
		t.Fatalf("refused invitations left users behind: %s", body)
	}

	cu, _ := f.invite("ap@acme.test", "customer", cus.ID)
	if cu.CustomerID == nil || *cu.CustomerID != cus.ID || cu.Role != "customer" {
		t.Errorf("customer user: %+v", cu)
	}
	if resp, body := stacktest.Do(t, f.s, "POST", "/v1/users", f.admin, `{"email":"AP@acme.test","role":"billing"}`); resp.StatusCode != 409 {
		t.Errorf("duplicate email: %d %s; want 409", resp.StatusCode, body)
	}
	if resp, body := stacktest.Do(t, f.s, "PATCH", "/v1/users/"+cu.ID, f.admin, `{"role":"superuser"}`); resp.StatusCode != 422 {
		t.Errorf("unknown role on update: %d %s", resp.StatusCode, body)
	}
	if resp, _ := stacktest.Do(t, f.s, "GET", "/v1/users/00000000-0000-0000-0000-000000000000", f.admin, ""); resp.StatusCode != 404 {
		t.Errorf("unknown user: %d", resp.StatusCode)
	}
	if resp, _ := stacktest.Do(t, f.s, "GET", "/v1/users/x%22%20or%20sub%20%5E%3D%20%22", f.admin, ""); resp.StatusCode != 404 {
		t.Errorf("filter injection in the id: %d", resp.StatusCode)
	}
}

// TestRoleTable: only admin manages users; every other role is 403, no token is 401.
func TestRoleTable(t *testing.T) {
	f := newFixture(t)
	u, _ := f.invite("rita@example.com", "auditor", "")
	callers := map[string]string{
		"admin":    f.admin,
		"billing":  stacktest.Token(t, f.s, devstack.TokenSpec{Role: "billing"}),
		"payments": stacktest.Token(t, f.s, devstack.TokenSpec{Role: "payments"}),
		"auditor":  stacktest.Token(t, f.s, devstack.TokenSpec{Role: "auditor"}),
		"customer": stacktest.Token(t, f.s, devstack.TokenSpec{Role: "customer", CustomerID: "cus_aaaaaaaaaaaaaaaaaaaaaaaaaa"}),
		"none":     "",
	}
	calls := []struct{ method, path, body string }{
		{"GET", "/v1/users", ""},
		{"GET", "/v1/users/" + u.ID, ""},
		{"POST", "/v1/users", `{"email":"new@example.com","role":"billing"}`},
		{"PATCH", "/v1/users/" + u.ID, `{"role":"billing"}`},
		{"POST", "/v1/users/" + u.ID + "/sign-out", ""},
		{"POST", "/v1/users/" + u.ID + "/disable", ""},
		{"POST", "/v1/users/" + u.ID + "/enable", ""},
	}
	for _, who := range []string{"billing", "payments", "auditor", "customer", "none", "admin"} {
		for _, c := range calls {
			resp, body := stacktest.Do(t, f.s, c.method, c.path, callers[who], c.body)
			want := map[string]int{"none": 401, "admin": 0}[who]
			if who != "none" && who != "admin" {
				want = 403
			}
			switch {
			case want == 0 && resp.StatusCode/100 != 2:
				t.Errorf("%s %s by admin: %d %s", c.method, c.path, resp.StatusCode, body)
			case want != 0 && resp.StatusCode != want:
				t.Errorf("%s %s by %s: %d; want %d", c.method, c.path, who, resp.StatusCode, want)
			}
		}
	}
}
