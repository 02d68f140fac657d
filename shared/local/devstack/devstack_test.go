package devstack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/handlers/me"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/local/provision"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

func TestProvisioningTwiceIsHarmless(t *testing.T) {
	s := stacktest.New(t)
	p := provision.New(s.Env.AWS, s.Names)
	var created []string
	p.Progress = func(kind, name string, c bool) {
		if c {
			created = append(created, kind+" "+name)
		}
	}
	if err := p.Apply(context.Background()); err != nil {
		t.Fatalf("second provisioning: %v", err)
	}
	if len(created) != 0 {
		t.Errorf("second provisioning created %v; want nothing", created)
	}
}

func TestHealth(t *testing.T) {
	s := stacktest.New(t)
	resp, _ := stacktest.Do(t, s, "GET", "/health", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /health: %d", resp.StatusCode)
	}
}

// TestMeThroughGateway runs the whole chain: gateway → authorizer → handler → audit outbox.
func TestMeThroughGateway(t *testing.T) {
	s := stacktest.New(t)
	good := stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "bob"})
	noMFA := stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "carol", NoMFA: true})
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	tests := []struct {
		name, token  string
		wantStatus   int
		wantCode     string // problem code, "" for success
		wantMFA      string // audit record's mfaAuthenticated
		wantIdentity string
	}{
		{"no token", "", 401, "unauthorized", "false", ""},
		{"tampered signature", tampered, 401, "unauthorized", "false", ""},
		{"no MFA", noMFA, 403, "mfa_required", "false", "carol"},
		{"MFA", good, 200, "", "true", "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := stacktest.Do(t, s, "GET", "/v1/me", tt.token, "")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			var got struct {
				Code      string `json:"code"`
				Principal string `json:"principal"`
				Role      string `json:"role"`
				MFA       bool   `json:"mfa"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body is not JSON: %s", body)
			}
			if got.Code != tt.wantCode {
				t.Errorf("code %q, want %q", got.Code, tt.wantCode)
			}
			if tt.wantCode == "" && (got.Principal != "bob" || got.Role != "billing" || !got.MFA) {
				t.Errorf("me = %+v", got)
			}

			recs := auditRecords(t, s, resp.Header.Get("X-Amzn-RequestId"))
			if len(recs) != 1 {
				t.Fatalf("request left %d audit records, want 1", len(recs))
			}
			r := recs[0]
			if r.ErrorCode != tt.wantCode || r.EventName != "GetMe" ||
				r.UserIdentity.SessionContext.Attributes.MFAAuthenticated != tt.wantMFA ||
				r.UserIdentity.PrincipalID != tt.wantIdentity {
				t.Errorf("audit record %+v", r)
			}
		})
	}

	// No JWT text may be stored anywhere: not the good token, not the tampered one, not any JWT header.
	raw := scanAll(t, s)
	for _, secret := range []string{good, noMFA, parts[2], "eyJ"} {
		if strings.Contains(raw, secret) {
			t.Errorf("audit table holds token text %.12q...", secret)
		}
	}
	if strings.Contains(stacktest.Logs.String(), parts[2]) {
		t.Error("logs hold a token signature")
	}
}

func TestCustomerTokenCarriesCustomer(t *testing.T) {
	s := stacktest.New(t)
	tok := stacktest.Token(t, s, devstack.TokenSpec{Role: "customer", CustomerID: "cus_abc"})
	resp, body := stacktest.Do(t, s, "GET", "/v1/me", tok, "")
	var got me.Response
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 || got.CustomerID != "cus_abc" {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	unknownRole := stacktest.Token(t, s, devstack.TokenSpec{Role: "superuser"})
	if resp, body := stacktest.Do(t, s, "GET", "/v1/me", unknownRole, ""); resp.StatusCode != 403 || !strings.Contains(body, `"forbidden"`) {
		t.Errorf("unknown role: %d %s", resp.StatusCode, body)
	}
}

func auditRecords(t *testing.T, s *devstack.Stack, requestID string) []audit.Record {
	t.Helper()
	if requestID == "" {
		t.Fatal("response has no request id")
	}
	var out []audit.Record
	for _, item := range scanItems(t, s) {
		rec, err := audit.Decode(item)
		if err != nil {
			t.Fatal(err)
		}
		if rec.RequestID == requestID {
			out = append(out, rec)
		}
	}
	return out
}

func scanItems(t *testing.T, s *devstack.Stack) []map[string]types.AttributeValue {
	t.Helper()
	db := dynamodb.NewFromConfig(s.Env.AWS)
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(s.Env.Config.AuditTable)})
	if err != nil {
		t.Fatalf("scan audit table: %v", err)
	}
	return out.Items
}

func scanAll(t *testing.T, s *devstack.Stack) string {
	t.Helper()
	b, err := json.Marshal(scanItems(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
