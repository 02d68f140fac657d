package auditreview_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/auditreview"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// TestAlertsThroughTheStack sends traffic through the local gateway and the audit shipper: normal use
// raises nothing; refused requests without MFA, and a failed decryption of card data, raise alerts.
func TestAlertsThroughTheStack(t *testing.T) {
	s := stacktest.New(t)
	ship := func() {
		t.Helper()
		if _, err := s.Audit.ShipNow(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	calm := stacktest.Token(t, s, devstack.TokenSpec{Role: "auditor", Subject: "calm-carla"})
	for range 10 {
		stacktest.Do(t, s, "GET", "/v1/me", calm, "")
		stacktest.Do(t, s, "GET", "/v1/audit-events", calm, "")
	}
	ship()
	if got := stacktest.AlertsFor("principal:calm-carla"); len(got) != 0 {
		t.Errorf("normal traffic raised %v", got)
	}

	noMFA := stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "mallory", NoMFA: true})
	for range auditreview.Defaults.AuthFailures {
		stacktest.Do(t, s, "GET", "/v1/me", noMFA, "")
	}
	ship()
	got := stacktest.AlertsFor("principal:mallory")
	if got[auditreview.RuleNoMFA] == 0 || got[auditreview.RuleAuthFailures] != 1 {
		t.Errorf("alerts for mallory: %v; want %s and one %s", got, auditreview.RuleNoMFA, auditreview.RuleAuthFailures)
	}

	// The payments function writes a Detokenize record for every decryption; a failed one alerts.
	store := &audit.Store{DB: dynamodb.NewFromConfig(s.Env.AWS), Table: s.Env.Config.AuditTable}
	r := audit.Record{
		EventVersion: audit.EventVersion, EventID: audit.NewEventID(), EventTime: audit.FormatTime(time.Now()),
		EventSource: "payments.vaultbill", EventName: auditreview.DetokenizeEvent, EventType: audit.TypeServiceEvent,
		UserIdentity: audit.UserIdentity{Type: "CognitoUser", PrincipalID: "pay-pat",
			SessionContext: audit.SessionContext{Attributes: audit.SessionAttributes{MFAAuthenticated: "true"}}},
		ErrorCode: "service_unavailable", Resources: []audit.Resource{{Type: "token", ID: "tok_0123456789abcdef0123456789abcdef"}},
	}
	if err := store.Put(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	ship()
	if got := stacktest.AlertsFor("principal:pay-pat"); got[auditreview.RuleCardDataDenied] != 1 {
		t.Errorf("alerts for a failed decryption: %v", got)
	}
	if !strings.Contains(stacktest.Logs.String(), `"Namespace":"Vaultbill/Audit"`) {
		t.Error("no EMF metrics were written")
	}
}
