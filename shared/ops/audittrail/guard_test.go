package audittrail

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/logging"
)

// TestShipperNeverShipsACardNumber: an outbox item written around the audit writer's last check (by
// hand, or before it existed) is shipped masked, never into the Object Lock bucket as it is, and the
// shipper raises the alert: an ALERT log line and the EMF metric.
func TestShipperNeverShipsACardNumber(t *testing.T) {
	m := newMemS3()
	var logs, metrics bytes.Buffer
	s := &Shipper{S3: m, Location: loc, Alert: &audit.Alerter{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: &metrics}}
	now := time.Now()
	leaky := testRecord(1, now)
	leaky.UserAgent = "curl 4242 4242 4242 4242"
	leaky.Resources = []audit.Resource{{Type: "token", ID: "5555555555554444"}}
	// A request id AWS drew that reads as a card number: shipped masked too, without an alert.
	uuid := testRecord(3, now)
	uuid.RequestID = "a8512345-6789-0123-4560-b940f31628a7"
	if _, err := s.Handle(context.Background(), streamEvent([]audit.Record{leaky, testRecord(2, now), uuid}, 1)); err != nil {
		t.Fatal(err)
	}
	if got := eventIDsIn(t, m); len(got) != 3 {
		t.Fatalf("shipped %v, want the three records", got)
	}
	for k, versions := range m.objects {
		for _, o := range versions {
			body, err := Gunzip(o.body)
			if err != nil {
				t.Fatal(err)
			}
			if logging.ContainsPAN(string(body)) {
				t.Errorf("%s holds a card number", k)
			}
		}
	}
	if n := strings.Count(logs.String(), `"alert":true`); n != 1 {
		t.Errorf("%d alert lines, want 1: %s", n, logs.String())
	}
	if !strings.Contains(metrics.String(), `"`+audit.MetricCardNumbersMasked+`":1`) {
		t.Errorf("no EMF metric: %q", metrics.String())
	}
}
