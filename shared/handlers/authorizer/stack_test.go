package authorizer_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/jwt"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// TestTokenTypeAndMFAProofThroughGateway runs the local stack (gateway → authorizer → handler → audit
// table): an ID token with amr is served and its audit record says MFA was proven by amr; a token
// without MFA is 403 and recorded with proof none (the local issuer is no MFA pool, so it proves MFA
// only by amr); an access token signed by the same key is 401.
func TestTokenTypeAndMFAProofThroughGateway(t *testing.T) {
	state := t.TempDir()
	s, err := devstack.Start(context.Background(), devstack.Options{
		Endpoint: stacktest.Endpoint(t), Addr: "127.0.0.1:0", StateDir: state,
		Names: resources.Names{Prefix: stacktest.UniquePrefix()}, Log: stacktest.Logger(t), Metrics: stacktest.Logs, AuditPoll: -1,
	})
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(s.Stop)
	key, kid, err := jwt.LoadOrCreateKey(state)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	access, err := jwt.Sign(key, kid, map[string]any{
		"sub": "pat", "iss": devstack.Issuer, "client_id": config.LocalAudience, "token_use": "access",
		"username": "pat", "cognito:groups": []string{"billing"}, "amr": []string{"pwd", "mfa"},
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantMFA    string // the audit record's sessionContext.attributes
		wantProof  string
	}{
		{"ID token with amr", stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "bob"}), 200, "true", "amr"},
		{"ID token without MFA", stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "carol", NoMFA: true}), 403, "false", "none"},
		{"access token", access, 401, "false", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := stacktest.Do(t, s, http.MethodGet, "/v1/me", tt.token, "")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			rec := auditRecord(t, s, resp.Header.Get("X-Amzn-RequestId"))
			if a := rec.UserIdentity.SessionContext.Attributes; a.MFAAuthenticated != tt.wantMFA || a.MFAProof != tt.wantProof {
				t.Errorf("audit session attributes %+v; want mfaAuthenticated %s, mfaProof %q", a, tt.wantMFA, tt.wantProof)
			}
		})
	}
}

func auditRecord(t *testing.T, s *devstack.Stack, requestID string) audit.Record {
	t.Helper()
	out, err := dynamodb.NewFromConfig(s.Env.AWS).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(s.Env.Config.AuditTable)})
	if err != nil {
		t.Fatalf("scan audit table: %v", err)
	}
	var found []audit.Record
	for _, item := range out.Items {
		rec, err := audit.Decode(item)
		if err != nil {
			t.Fatal(err)
		}
		if rec.RequestID == requestID {
			found = append(found, rec)
		}
	}
	if requestID == "" || len(found) != 1 {
		t.Fatalf("request %q left %d audit records, want 1", requestID, len(found))
	}
	return found[0]
}
