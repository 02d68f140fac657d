package auditreview

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/routes"
)

type collector struct{ alerts []Alert }

func (c *collector) Publish(_ context.Context, a Alert) error {
	c.alerts = append(c.alerts, a)
	return nil
}

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

var seq int

// rec builds a record; opts adjust it.
func rec(at time.Duration, opts ...func(*audit.Record)) audit.Record {
	seq++
	r := audit.Record{
		EventID: fmt.Sprintf("evt_%d", seq), EventTime: audit.FormatTime(t0.Add(at)), EventName: "GetInvoice",
		EventType:   audit.TypeAPICall,
		EventSource: "invoices.vaultbill", SourceIPAddress: "198.51.100.7",
		UserIdentity: audit.UserIdentity{Type: "CognitoUser", PrincipalID: "alice",
			SessionContext: audit.SessionContext{Attributes: audit.SessionAttributes{MFAAuthenticated: "true"}}},
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func code(c string) func(*audit.Record) { return func(r *audit.Record) { r.ErrorCode = c } }
func name(n string) func(*audit.Record) { return func(r *audit.Record) { r.EventName = n } }
func who(p string) func(*audit.Record) {
	return func(r *audit.Record) { r.UserIdentity.PrincipalID = p }
}
func ip(a string) func(*audit.Record) { return func(r *audit.Record) { r.SourceIPAddress = a } }
func anonymous() func(*audit.Record) {
	return func(r *audit.Record) { r.UserIdentity = audit.UserIdentity{Type: "Unknown"} }
}
func noMFA() func(*audit.Record) {
	return func(r *audit.Record) { r.UserIdentity.SessionContext.Attributes.MFAAuthenticated = "false" }
}
func times(n int, f func(i int) audit.Record) []audit.Record {
	var out []audit.Record
	for i := range n {
		out = append(out, f(i))
	}
	return out
}

// fired is the rule and subject of each alert.
func fired(alerts []Alert) []string {
	out := []string{}
	for _, a := range alerts {
		out = append(out, a.Rule+" "+a.Subject)
	}
	return out
}

func TestRules(t *testing.T) {
	cfg := Config{AuthFailures: 3, AuthWindow: 5 * time.Minute, Detokenize: 4, DetokenizeWindow: time.Hour,
		CardAttempts: 4, CardFailures: 3, CardWindow: 10 * time.Minute}
	attempt := func(i int, opts ...func(*audit.Record)) audit.Record {
		op := "CreateToken"
		if i%2 == 1 {
			op = "PayInvoice"
		}
		return rec(time.Duration(i)*time.Minute, append([]func(*audit.Record){name(op)}, opts...)...)
	}
	tests := []struct {
		name    string
		batches [][]audit.Record
		want    []string
	}{
		{"normal traffic is quiet", [][]audit.Record{times(50, func(i int) audit.Record { return rec(time.Duration(i) * time.Second) })}, []string{}},
		{"a few refusals are quiet", [][]audit.Record{{rec(0, code("forbidden")), rec(time.Minute, code("not_found"))}}, []string{}},
		{"repeated failures by one principal", [][]audit.Record{
			{rec(0, code("forbidden"), ip("192.0.2.1")), rec(time.Minute, code("forbidden"), ip("192.0.2.2"))},
			{rec(2*time.Minute, code("forbidden"), ip("192.0.2.3")), rec(3*time.Minute, code("forbidden"), ip("192.0.2.4"))},
		}, []string{"authorization-failures principal:alice"}},
		{"repeated failures from one address, any principal", [][]audit.Record{times(3, func(i int) audit.Record {
			return rec(time.Duration(i)*time.Second, code("unauthorized"), anonymous())
		})}, []string{"authorization-failures ip:198.51.100.7"}},
		{"failures spread beyond the window are quiet", [][]audit.Record{times(6, func(i int) audit.Record {
			return rec(time.Duration(i)*3*time.Minute, code("forbidden"), who(fmt.Sprint("u", i%2)), ip(fmt.Sprint("192.0.2.", i)))
		})}, []string{}},
		{"denied card data access", [][]audit.Record{{rec(0, name("GetToken"), code("not_found"))}}, []string{"card-data-access-denied principal:alice"}},
		{"failed detokenization", [][]audit.Record{{rec(0, name("Detokenize"), code("service_unavailable"))}}, []string{"card-data-access-denied principal:alice"}},
		{"a declined card is not a denial", [][]audit.Record{{rec(0, name("PayInvoice"), code("card_declined"))}}, []string{}},
		{"detokenization volume at the threshold is quiet", [][]audit.Record{times(4, func(i int) audit.Record {
			return rec(time.Duration(i)*time.Minute, name("Detokenize"))
		})}, []string{}},
		{"detokenization volume above the threshold", [][]audit.Record{times(5, func(i int) audit.Record {
			return rec(time.Duration(i)*time.Minute, name("Detokenize"))
		})}, []string{"detokenization-volume all"}},
		{"a request without MFA", [][]audit.Record{{rec(0, noMFA(), code("mfa_required"))}}, []string{"request-without-mfa principal:alice"}},
		{"the service's own scheduled work is not a request without MFA", [][]audit.Record{{rec(0, noMFA(), func(r *audit.Record) {
			r.EventType, r.EventName, r.UserIdentity.PrincipalID = audit.TypeServiceEvent, "Backup", "backup.vaultbill"
		})}}, []string{}},
		{"card attempts at a normal pace are quiet", [][]audit.Record{times(3, func(i int) audit.Record { return attempt(i) })}, []string{}},
		{"card enumeration: many attempts by one principal", [][]audit.Record{times(4, func(i int) audit.Record { return attempt(i) })},
			[]string{"card-attempt-volume principal:alice"}},
		{"attempts of different principals are not summed", [][]audit.Record{times(4, func(i int) audit.Record {
			return attempt(i, who(fmt.Sprint("u", i%2)))
		})}, []string{}},
		{"attempts spread beyond the window are quiet", [][]audit.Record{times(6, func(i int) audit.Record {
			return rec(time.Duration(i)*4*time.Minute, name("CreateToken"))
		})}, []string{}},
		{"card testing: many invalid cards", [][]audit.Record{times(3, func(i int) audit.Record { return attempt(i, code("validation_failed")) })},
			[]string{"card-validation-failures principal:alice"}},
		{"a throttled card attempt", [][]audit.Record{{rec(0, name("PayInvoice"), code("rate_limited"))}},
			[]string{"card-attempts-throttled principal:alice"}},
		{"throttles are alerted once per window", [][]audit.Record{
			{rec(0, name("CreateToken"), code("rate_limited"))}, {rec(time.Minute, name("CreateToken"), code("rate_limited"))},
		}, []string{"card-attempts-throttled principal:alice"}},
		{"retried deliveries are counted once", func() [][]audit.Record {
			b := []audit.Record{rec(0, code("forbidden")), rec(time.Second, code("forbidden"))}
			return [][]audit.Record{b, b, b}
		}(), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &collector{}
			var metrics bytes.Buffer
			e := &Engine{Config: cfg, Publisher: c, Metrics: &metrics, Function: "audit-shipper", Clock: func() time.Time { return t0 }}
			for _, b := range tt.batches {
				e.Shipped(context.Background(), "key", b)
			}
			if diff := cmp.Diff(tt.want, fired(c.alerts)); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
			e.Flush(context.Background())
			if len(tt.want) > 0 && !strings.Contains(metrics.String(), `"Rule":"`+c.alerts[0].Rule+`"`) {
				t.Errorf("no Alerts metric for %s in %s", c.alerts[0].Rule, metrics.String())
			}
		})
	}
}

func TestPipelineFailureAlertsAndCounts(t *testing.T) {
	c := &collector{}
	var metrics bytes.Buffer
	e := &Engine{Config: Defaults, Publisher: c, Metrics: &metrics, Function: "audit-shipper", Clock: func() time.Time { return t0 }}
	e.Shipped(context.Background(), "k", []audit.Record{rec(0)})
	e.Failed(context.Background(), "ship", errors.New("PUT failed"))
	e.Flush(context.Background())
	if diff := cmp.Diff([]string{"audit-pipeline-failure ship"}, fired(c.alerts)); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	// The first line is the counters' EMF document.
	line, _, _ := strings.Cut(metrics.String(), "\n")
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Function              string
		RecordsShipped        float64
		AuditPipelineFailures float64
	}
	if err := json.Unmarshal([]byte(line), &doc); err != nil {
		t.Fatalf("EMF line %q: %v", line, err)
	}
	cw := doc.AWS.CloudWatchMetrics
	if len(cw) != 1 || cw[0].Namespace != Namespace || doc.AWS.Timestamp != t0.UnixMilli() || doc.Function != "audit-shipper" ||
		doc.RecordsShipped != 1 || doc.AuditPipelineFailures != 1 || len(cw[0].Metrics) != 3 {
		t.Errorf("EMF document %s", line)
	}
	// Flushed counters start again from zero.
	metrics.Reset()
	e.Flush(context.Background())
	if metrics.Len() != 0 {
		t.Errorf("second flush wrote %s", metrics.String())
	}
}

func TestConfigFrom(t *testing.T) {
	env := map[string]string{EnvAuthFailures: "10", EnvDetokenizeWindow: "30m", EnvTopicARN: "arn:aws:sns:eu-west-1:1:alerts"}
	env[EnvCardFailures], env[EnvCardWindow] = "5", "1h"
	got, err := ConfigFrom(func(k string) string { return env[k] })
	want := Config{AuthFailures: 10, AuthWindow: 5 * time.Minute, Detokenize: 1000, DetokenizeWindow: 30 * time.Minute,
		CardAttempts: 20, CardFailures: 5, CardWindow: time.Hour, TopicARN: "arn:aws:sns:eu-west-1:1:alerts"}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("ConfigFrom = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []map[string]string{{EnvAuthFailures: "0"}, {EnvAuthWindow: "soon"}, {EnvDetokenize: "-1"}, {EnvCardAttempts: "x"}, {EnvCardWindow: "0s"}} {
		if _, err := ConfigFrom(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestCardAttemptOperationsAreRoutes keeps the rules' operation names in step with the route table.
func TestCardAttemptOperationsAreRoutes(t *testing.T) {
	for op := range cardAttemptOperations {
		found := false
		for _, r := range routes.All {
			found = found || r.Operation == op
		}
		if !found {
			t.Errorf("%s is not an operation of the route table", op)
		}
	}
}
