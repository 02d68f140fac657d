package auditquery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/handlers/auditquery"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

type page struct {
	Data       []audit.Record `json:"data"`
	HasMore    bool           `json:"has_more"`
	NextCursor string         `json:"next_cursor"`
	Code       string         `json:"code"`
	Errors     []struct{ Field string }
}

func list(t *testing.T, s *devstack.Stack, token, query string) (int, page) {
	t.Helper()
	resp, body := stacktest.Do(t, s, "GET", "/v1/audit-events?"+query, token, "")
	var p page
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return resp.StatusCode, p
}

// seed writes n records one hour apart ending at end, alternating two principals and event names.
func seed(t *testing.T, s *devstack.Stack, end time.Time, n int) []audit.Record {
	t.Helper()
	store := &audit.Store{DB: dynamodb.NewFromConfig(s.Env.AWS), Table: s.Env.Config.AuditTable}
	var out []audit.Record
	for i := range n {
		r := audit.Record{
			EventVersion: audit.EventVersion, EventID: audit.NewEventID(),
			EventTime:   audit.FormatTime(end.Add(-time.Duration(i) * time.Hour)),
			EventSource: "invoices.vaultbill", EventName: []string{"GetInvoice", "VoidInvoice"}[i%2], EventType: audit.TypeAPICall,
			UserIdentity: audit.UserIdentity{Type: "CognitoUser", PrincipalID: []string{"ann", "ben"}[i%2],
				SessionContext: audit.SessionContext{Attributes: audit.SessionAttributes{MFAAuthenticated: "true"}}},
			RequestParameters: map[string]string{"id": fmt.Sprintf("in_aaaaaaaaaaaaaaaaaaaaaa%04d", i)},
			Resources:         []audit.Resource{{Type: "invoice", ID: fmt.Sprintf("in_aaaaaaaaaaaaaaaaaaaaaa%04d", i)}},
		}
		if err := store.Put(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func ids(recs []audit.Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.EventID)
	}
	return out
}

func TestListAuditEvents(t *testing.T) {
	s := stacktest.New(t)
	auditor := stacktest.Token(t, s, devstack.TokenSpec{Role: "auditor", Subject: "aud"})
	end := time.Date(2026, 2, 3, 5, 0, 0, 0, time.UTC)
	seeded := seed(t, s, end, 25) // 25 hours back: crosses two day boundaries
	since, until := url.QueryEscape(end.Add(-48*time.Hour).Format(time.RFC3339)), url.QueryEscape(end.Add(time.Second).Format(time.RFC3339))
	window := "since=" + since + "&until=" + until

	// Paging newest first across days, with no record twice and none left out.
	var got []audit.Record
	q := window + "&limit=10"
	for pages := 0; ; pages++ {
		status, p := list(t, s, auditor, q)
		if status != 200 || pages > 3 {
			t.Fatalf("status %d after %d pages: %+v", status, pages, p)
		}
		got = append(got, p.Data...)
		if !p.HasMore {
			break
		}
		q = "cursor=" + p.NextCursor + "&limit=10"
	}
	if diff := cmp.Diff(ids(seeded), ids(got)); diff != "" {
		t.Errorf("paged events (-want +got):\n%s", diff)
	}

	tests := []struct {
		query string
		want  []audit.Record
	}{
		{window + "&principal=ben&limit=3", []audit.Record{seeded[1], seeded[3], seeded[5]}},
		{window + "&event_name=GetInvoice&limit=2", []audit.Record{seeded[0], seeded[2]}},
		{window + "&resource_id=" + seeded[7].Resources[0].ID, []audit.Record{seeded[7]}},
		{"since=" + url.QueryEscape(end.Add(-2*time.Hour).Format(time.RFC3339)) + "&until=" + url.QueryEscape(end.Format(time.RFC3339)), []audit.Record{seeded[1], seeded[2]}},
		{window + "&principal=nobody", nil},
	}
	for _, tt := range tests {
		status, p := list(t, s, auditor, tt.query)
		if status != 200 {
			t.Errorf("%s: status %d", tt.query, status)
			continue
		}
		if diff := cmp.Diff(ids(tt.want), ids(p.Data)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.query, diff)
		}
	}

	// Reading the trail is itself in the trail.
	_, p := list(t, s, auditor, "event_name=ListAuditEvents&principal=aud")
	if len(p.Data) != 8 { // three pages and five filtered queries
		t.Errorf("reads of the audit trail were not audited: %+v", p.Data)
	}
}

func TestListAuditEventsRefusals(t *testing.T) {
	s := stacktest.New(t)
	auditor := stacktest.Token(t, s, devstack.TokenSpec{Role: "auditor"})
	seed(t, s, time.Now().UTC(), 3)
	_, p := list(t, s, auditor, "limit=1")
	if !p.HasMore {
		t.Fatalf("setup: %+v", p)
	}
	tests := []struct {
		name, token, query string
		status             int
		code, field        string
	}{
		{"billing may not read the trail", stacktest.Token(t, s, devstack.TokenSpec{Role: "billing"}), "", 403, "forbidden", ""},
		{"customers may not read the trail", stacktest.Token(t, s, devstack.TokenSpec{Role: "customer", CustomerID: "cus_1"}), "", 403, "forbidden", ""},
		{"limit 0", auditor, "limit=0", 422, "validation_failed", "limit"},
		{"limit 101", auditor, "limit=101", 422, "validation_failed", "limit"},
		{"limit not a number", auditor, "limit=ten", 422, "validation_failed", "limit"},
		{"misspelt filter", auditor, "principle=ann", 422, "validation_failed", "principle"},
		{"since not a time", auditor, "since=yesterday", 422, "validation_failed", "since"},
		{"since after until", auditor, "since=2026-02-02T00:00:00Z&until=2026-02-01T00:00:00Z", 422, "validation_failed", "since"},
		{"range over 395 days", auditor, "since=2020-01-01T00:00:00Z&until=2026-02-01T00:00:00Z", 422, "validation_failed", "since"},
		{"forged cursor", auditor, "cursor=eyJub3QiOiJhIGN1cnNvciJ9", 422, "validation_failed", "cursor"},
		{"cursor with another filter", auditor, "cursor=" + p.NextCursor + "&principal=ann", 422, "validation_failed", "principal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := list(t, s, tt.token, tt.query)
			if status != tt.status || got.Code != tt.code {
				t.Fatalf("status %d code %q, want %d %q", status, got.Code, tt.status, tt.code)
			}
			if tt.field != "" && (len(got.Errors) == 0 || got.Errors[0].Field != tt.field) {
				t.Errorf("errors %+v, want field %s", got.Errors, tt.field)
			}
		})
	}
	if auditquery.MaxLimit != 100 || auditquery.DefaultLimit != 20 {
		t.Error("limits differ from DESIGN §5")
	}
}
