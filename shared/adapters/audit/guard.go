package audit

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Metric of the audit writer's last check, in the automated review's namespace.
const (
	MetricNamespace         = resources.AuditMetricNamespace
	MetricCardNumbersMasked = resources.MetricCardNumbersMasked
)

// Redacted returns rec with logging.Redact applied to every string in it: card numbers, JWTs, bearer
// credentials and key material a client slipped into an id, a header or a parameter become markers.
// Writers call it on every record they build; the Store's last check relies on it too.
func (rec Record) Redacted() Record {
	r := logging.Redact
	rec.EventVersion, rec.EventID, rec.EventTime = r(rec.EventVersion), r(rec.EventID), r(rec.EventTime)
	rec.EventSource, rec.EventName, rec.EventType = r(rec.EventSource), r(rec.EventName), r(rec.EventType)
	u := &rec.UserIdentity
	u.Type, u.PrincipalID, u.UserName, u.Role = r(u.Type), r(u.PrincipalID), r(u.UserName), r(u.Role)
	u.SessionContext.Attributes.MFAAuthenticated = r(u.SessionContext.Attributes.MFAAuthenticated)
	rec.SourceIPAddress, rec.UserAgent, rec.RequestID = r(rec.SourceIPAddress), r(rec.UserAgent), r(rec.RequestID)
	rec.RequestParameters = redactMap(rec.RequestParameters)
	rec.ResponseElements = redactMap(rec.ResponseElements)
	rec.ErrorCode, rec.ErrorMessage = r(rec.ErrorCode), r(rec.ErrorMessage)
	if rec.Resources != nil {
		res := make([]Resource, len(rec.Resources))
		for i, x := range rec.Resources {
			res[i] = Resource{ARN: r(x.ARN), Type: r(x.Type), ID: r(x.ID)}
		}
		rec.Resources = res
	}
	rec.RecipientAccountID, rec.AWSRegion = r(rec.RecipientAccountID), r(rec.AWSRegion)
	return rec
}

func redactMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[logging.Redact(k)] = logging.Redact(v)
	}
	return out
}

// Check is what the last check did to a record.
type Check struct {
	// Masked: the record held a card number, or a run that reads as one, and is written masked.
	Masked bool
	// Alert: a card number was masked, not only a run inside a UUID; the caller raises the alert.
	Alert bool
}

// Guard is the last check before a record is stored or shipped: a record whose JSON holds a card
// number (a Luhn-valid 13-19 digit run, grouped or not) anywhere is never written as is. It returns
// the record to write, masked if need be, and what it did. A run read only inside a UUID (a request
// id, a KMS key id: AWS draws them, and about one in 300 reads as a card number) is masked all the
// same, without an alert, which would otherwise page the operator for a few requests in every
// thousand. A record that still holds one after masking is refused.
func Guard(rec Record) (Record, Check, error) {
	rec, _, c, err := guard(rec)
	return rec, c, err
}

// guard is Guard that also returns the JSON of the record to write.
func guard(rec Record) (Record, []byte, Check, error) {
	body, err := json.Marshal(rec)
	if err != nil {
		return Record{}, nil, Check{}, fmt.Errorf("marshal audit record %s: %w", rec.EventID, err)
	}
	if !logging.ContainsPAN(string(body)) {
		return rec, body, Check{}, nil
	}
	c := Check{Masked: true, Alert: logging.ContainsPANOutsideUUIDs(string(body))}
	masked := rec.Redacted()
	if body, err = json.Marshal(masked); err != nil || logging.ContainsPAN(string(body)) {
		return masked, nil, Check{Masked: true, Alert: true}, fmt.Errorf("audit record %s holds a card number that masking did not remove; refused", masked.EventID)
	}
	return masked, body, c, nil
}

// Alerter raises the alert of a masked record: an ALERT log line ("alert": true, which the alarms'
// metric filters count) and an EMF metric, so an operator learns that some path let a card number
// reach an audit record even though none was stored.
type Alerter struct {
	// Log receives the alert line; nil means slog.Default().
	Log *slog.Logger
	// Metrics receives the EMF line (stdout in Lambda); nil writes none.
	Metrics interface{ Write([]byte) (int, error) }
	Clock   clock.Func
}

// CardNumberMasked raises the alert for rec (already masked) found at stage ("write", "ship").
func (a *Alerter) CardNumberMasked(rec Record, stage string) {
	log := slog.Default()
	if a != nil && a.Log != nil {
		log = a.Log
	}
	log.Error("ALERT: card number in an audit record; it was masked before being stored", "alert", true,
		"stage", stage, "event_id", rec.EventID, "event_source", rec.EventSource, "event", rec.EventName)
	if a == nil || a.Metrics == nil {
		return
	}
	now := a.Clock.Now()
	line := map[string]any{"EventSource": rec.EventSource, "Stage": stage, MetricCardNumbersMasked: 1}
	line["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			// No dimensions: one alarm covers every function; EventSource and Stage stay in the line
			// for Logs Insights.
			"Namespace": MetricNamespace, "Dimensions": [][]string{{}},
			"Metrics": []map[string]string{{"Name": MetricCardNumbersMasked, "Unit": "Count"}},
		}},
	}
	b, _ := json.Marshal(line) // strings and numbers always marshal
	_, _ = a.Metrics.Write(append(b, '\n'))
}
