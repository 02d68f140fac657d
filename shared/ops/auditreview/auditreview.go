// Package auditreview is the automated review of the audit trail (PCI DSS 10.4.1.1): rules evaluated
// on the records as they ship, CloudWatch metrics in Embedded Metric Format, and alerts when a rule fires.
package auditreview

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Rule names, as alerts and metrics carry them.
const (
	RuleAuthFailures   = resources.RuleAuthFailures
	RuleCardDataDenied = resources.RuleCardDataDenied
	RuleDetokenize     = resources.RuleDetokenize
	RuleNoMFA          = resources.RuleNoMFA
	RulePipeline       = resources.RulePipeline
	// RuleCardAttempts, RuleCardFailures and RuleCardThrottled catch card enumeration and card testing
	// by one principal: many tokenize or pay attempts, many refused card numbers, or any throttled one.
	RuleCardAttempts  = resources.RuleCardAttempts
	RuleCardFailures  = resources.RuleCardFailures
	RuleCardThrottled = resources.RuleCardThrottled
	// RulePrivilegeElevation fires on every successful grant of the admin role (PCI DSS 10.2.1.5).
	RulePrivilegeElevation = resources.RulePrivilegeElevation
)

// DetokenizeEvent is the eventName of the record written for every decryption of a card number.
const DetokenizeEvent = "Detokenize"

// Environment variables of the thresholds; each has a default.
const (
	EnvAuthFailures     = "AUDIT_ALERT_AUTH_FAILURES"
	EnvAuthWindow       = "AUDIT_ALERT_AUTH_WINDOW"
	EnvDetokenize       = "AUDIT_ALERT_DETOKENIZE"
	EnvDetokenizeWindow = "AUDIT_ALERT_DETOKENIZE_WINDOW"
	EnvTopicARN         = resources.EnvAuditAlertTopicARN
	EnvCardAttempts     = "AUDIT_ALERT_CARD_ATTEMPTS"
	EnvCardFailures     = "AUDIT_ALERT_CARD_FAILURES"
	EnvCardWindow       = "AUDIT_ALERT_CARD_WINDOW"
)

// Config holds the rules' thresholds.
type Config struct {
	// AuthFailures within AuthWindow by one principal or from one IP address fire RuleAuthFailures.
	AuthFailures int
	AuthWindow   time.Duration
	// Detokenize decryptions within DetokenizeWindow fire RuleDetokenize.
	Detokenize       int
	DetokenizeWindow time.Duration
	// CardAttempts tokenize or pay requests, or CardFailures of them refused for the card (invalid,
	// declined), by one principal within CardWindow fire RuleCardAttempts or RuleCardFailures; a
	// single throttled one fires RuleCardThrottled. They sit below the card-attempt limit
	// (shared/adapters/ratelimit, 30 per 10 minutes), so an enumeration is reported before it is throttled.
	CardAttempts, CardFailures int
	CardWindow                 time.Duration
	// TopicARN is the SNS topic alerts go to in AWS ("" logs them instead, as locally).
	TopicARN string
}

// Defaults are the thresholds when the environment sets none.
var Defaults = Config{
	AuthFailures: 5, AuthWindow: 5 * time.Minute, Detokenize: 1000, DetokenizeWindow: time.Hour,
	CardAttempts: 20, CardFailures: 10, CardWindow: 10 * time.Minute,
}

// ConfigFrom reads the thresholds through lookup (os.Getenv), falling back to Defaults.
func ConfigFrom(lookup func(string) string) (Config, error) {
	c := Defaults
	c.TopicARN = lookup(EnvTopicARN)
	ints := map[string]*int{EnvAuthFailures: &c.AuthFailures, EnvDetokenize: &c.Detokenize,
		EnvCardAttempts: &c.CardAttempts, EnvCardFailures: &c.CardFailures}
	for name, p := range ints {
		if v := lookup(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return c, fmt.Errorf("%s=%q: want a whole number of at least 1", name, v)
			}
			*p = n
		}
	}
	durs := map[string]*time.Duration{EnvAuthWindow: &c.AuthWindow, EnvDetokenizeWindow: &c.DetokenizeWindow,
		EnvCardWindow: &c.CardWindow}
	for name, p := range durs {
		if v := lookup(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return c, fmt.Errorf("%s=%q: want a duration such as 5m", name, v)
			}
			*p = d
		}
	}
	return c, nil
}

// Alert is what a firing rule publishes. It names principals, addresses and event IDs, never a
// record's parameters.
type Alert struct {
	Rule     string   `json:"rule"`
	Summary  string   `json:"summary"`
	Subject  string   `json:"subject,omitempty"` // "principal:<id>", "ip:<address>", or a pipeline stage
	Count    int      `json:"count"`
	EventIDs []string `json:"eventIDs,omitempty"`
	Time     string   `json:"time"`
}

// Publisher delivers alerts (SNS in AWS, the log locally).
type Publisher interface {
	Publish(ctx context.Context, a Alert) error
}

// LogPublisher writes alerts as log lines (the local stack, and a fallback).
type LogPublisher struct{ Log *slog.Logger }

// Publish logs a.
func (p LogPublisher) Publish(_ context.Context, a Alert) error {
	p.Log.Warn("audit alert", "rule", a.Rule, "summary", a.Summary, "subject", a.Subject, "count", a.Count, "event_ids", a.EventIDs)
	return nil
}

// maxAlertIDs bounds the event IDs an alert lists.
const maxAlertIDs = 10

// Engine evaluates the rules. Counting windows run on event time, so delivery delays and the
// stream's lack of order do not change the outcome; event IDs already seen (retried deliveries) are
// not counted twice. State lives in the running shipper; the EMF metrics are the fleet-wide view
// that CloudWatch alarms can watch.
type Engine struct {
	Config    Config
	Publisher Publisher
	// Metrics receives one EMF JSON line per flush (stdout in Lambda, where CloudWatch picks it up).
	Metrics io.Writer
	// Function is the metrics' Function dimension.
	Function string
	Log      *slog.Logger
	Clock    clock.Func

	mu       sync.Mutex
	windows  map[string][]time.Time
	lastFire map[string]time.Time
	seen     map[string]time.Time
	counts   map[string]float64
	alerts   map[string]float64
}

// Metric names in the Vaultbill/Audit namespace.
const (
	MetricRecords      = "RecordsShipped"
	MetricFiles        = "LogFilesWritten"
	MetricAuthFailures = "AuthorizationFailures"
	MetricCardDenied   = "CardDataAccessDenied"
	MetricDetokenize   = "Detokenizations"
	MetricNoMFA        = "RequestsWithoutMFA"
	MetricPipeline     = resources.MetricAuditPipelineFailures
	MetricCardAttempts = "CardAttempts"
	MetricCardFailures = "CardAttemptsRefused"
	MetricThrottled    = "CardAttemptsThrottled"
	MetricAlerts       = resources.MetricAuditAlerts
	// MetricElevations counts grants of the admin role.
	MetricElevations = "AdminRoleGrants"
	Namespace        = resources.AuditMetricNamespace
)

func (e *Engine) init() {
	if e.windows == nil {
		e.windows = map[string][]time.Time{}
		e.lastFire = map[string]time.Time{}
		e.seen = map[string]time.Time{}
		e.counts = map[string]float64{}
		e.alerts = map[string]float64{}
	}
}

// authFailure reports whether a record is a refused authentication or authorization.
func authFailure(code string) bool {
	switch problem.Code(code) {
	case problem.Unauthorized, problem.Forbidden, problem.MFARequired:
		return true
	}
	return false
}

// cardDataOperations are the operations that reach card data: the tokens and payments routes.
var cardDataOperations = func() map[string]bool {
	m := map[string]bool{DetokenizeEvent: true}
	for _, r := range routes.All {
		if r.Function == routes.Tokens || r.Function == routes.Payments {
			m[r.Operation] = true
		}
	}
	return m
}()

// cardDataDenied reports whether a record is a refused access to card data, or a failed decryption.
func cardDataDenied(r *audit.Record) bool {
	if !cardDataOperations[r.EventName] || r.ErrorCode == "" {
		return false
	}
	return r.EventName == DetokenizeEvent || authFailure(r.ErrorCode) || problem.Code(r.ErrorCode) == problem.NotFound
}

// cardAttemptOperations are the routes that answer about a card number a client sends or names: the
// attempts enumeration and card testing make (and shared/adapters/ratelimit counts).
var cardAttemptOperations = map[string]bool{"CreateToken": true, "PayInvoice": true,
	// The same attempts from the hosted invoice page, whose principal is the link.
	"CreateHostedPageToken": true, "PayHostedInvoice": true}

// cardRefused reports whether a card attempt was refused for its card: invalid, or declined.
func cardRefused(code string) bool {
	switch problem.Code(code) {
	case problem.ValidationFailed, problem.CardDeclined:
		return true
	}
	return false
}

// userOperations are the users function's operations that can grant a role.
var userOperations = map[string]bool{"CreateUser": true, "UpdateUser": true}

// grantsAdmin reports whether a record is a successful invitation to, or change into, the admin role:
// the users function names the admin role among the resources of such a record.
func grantsAdmin(r *audit.Record) bool {
	if !userOperations[r.EventName] || r.ErrorCode != "" {
		return false
	}
	return slices.Contains(r.Resources, audit.Resource{Type: "role", ID: "admin"})
}

// group collects one batch's matches of a rule for one subject.
type group struct {
	rule, subject string
	ids           []string
	times         []time.Time
}

// Shipped evaluates the rules on records that are now in a log file.
func (e *Engine) Shipped(ctx context.Context, _ string, recs []audit.Record) {
	e.mu.Lock()
	e.init()
	e.counts[MetricFiles]++
	groups := map[string]*group{}
	add := func(rule, subject string, r *audit.Record, t time.Time) {
		g := groups[rule+"\x00"+subject]
		if g == nil {
			g = &group{rule: rule, subject: subject}
			groups[rule+"\x00"+subject] = g
		}
		g.ids = append(g.ids, r.EventID)
		g.times = append(g.times, t)
	}
	now := e.Clock.Now()
	for i := range recs {
		r := &recs[i]
		if _, dup := e.seen[r.EventID]; dup {
			continue
		}
		e.seen[r.EventID] = now
		e.counts[MetricRecords]++
		t, err := time.Parse(time.RFC3339, r.EventTime)
		if err != nil {
			t = now
		}
		if authFailure(r.ErrorCode) {
			e.counts[MetricAuthFailures]++
			if id := r.UserIdentity.PrincipalID; id != "" {
				add(RuleAuthFailures, "principal:"+id, r, t)
			}
			if ip := r.SourceIPAddress; ip != "" {
				add(RuleAuthFailures, "ip:"+ip, r, t)
			}
		}
		if cardDataDenied(r) {
			e.counts[MetricCardDenied]++
			add(RuleCardDataDenied, subjectOf(r), r, t)
		}
		if r.EventName == DetokenizeEvent && r.ErrorCode == "" {
			e.counts[MetricDetokenize]++
			add(RuleDetokenize, "all", r, t)
		}
		if cardAttemptOperations[r.EventName] && r.EventType == audit.TypeAPICall && r.UserIdentity.PrincipalID != "" {
			subject := "principal:" + r.UserIdentity.PrincipalID
			e.counts[MetricCardAttempts]++
			add(RuleCardAttempts, subject, r, t)
			if cardRefused(r.ErrorCode) {
				e.counts[MetricCardFailures]++
				add(RuleCardFailures, subject, r, t)
			}
			if problem.Code(r.ErrorCode) == problem.RateLimited {
				e.counts[MetricThrottled]++
				add(RuleCardThrottled, subject, r, t)
			}
		}
		if grantsAdmin(r) {
			e.counts[MetricElevations]++
			add(RulePrivilegeElevation, subjectOf(r), r, t)
		}
		// Only requests to the API count: the service's own scheduled work (backups, digests) has no
		// interactive session to carry MFA.
		if r.EventType == audit.TypeAPICall && r.UserIdentity.Type != "Unknown" && r.UserIdentity.PrincipalID != "" &&
			r.UserIdentity.SessionContext.Attributes.MFAAuthenticated != "true" {
			e.counts[MetricNoMFA]++
			add(RuleNoMFA, subjectOf(r), r, t)
		}
	}
	e.pruneSeen(now)
	var fire []Alert
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if a, ok := e.evaluate(groups[k]); ok {
			fire = append(fire, a)
		}
	}
	e.mu.Unlock()
	for _, a := range fire {
		e.publish(ctx, a)
	}
}

func subjectOf(r *audit.Record) string {
	if r.UserIdentity.PrincipalID != "" {
		return "principal:" + r.UserIdentity.PrincipalID
	}
	return "ip:" + r.SourceIPAddress
}

// evaluate adds a batch's matches to the rule's window and decides whether it fires.
func (e *Engine) evaluate(g *group) (Alert, bool) {
	threshold, window := 1, time.Duration(0)
	var summary string
	switch g.rule {
	case RuleAuthFailures:
		threshold, window = e.Config.AuthFailures, e.Config.AuthWindow
		summary = fmt.Sprintf("repeated authorization failures (%d or more within %s)", threshold, window)
	case RuleDetokenize:
		threshold, window = e.Config.Detokenize+1, e.Config.DetokenizeWindow
		summary = fmt.Sprintf("detokenization volume above %d within %s", threshold-1, window)
	case RuleCardAttempts:
		threshold, window = e.Config.CardAttempts, e.Config.CardWindow
		summary = fmt.Sprintf("card enumeration suspected: %d or more tokenize or pay attempts within %s", threshold, window)
	case RuleCardFailures:
		threshold, window = e.Config.CardFailures, e.Config.CardWindow
		summary = fmt.Sprintf("card testing suspected: %d or more invalid or declined cards within %s", threshold, window)
	case RuleCardThrottled:
		window = e.Config.CardWindow
		summary = "card attempts throttled by the rate limit"
	case RuleCardDataDenied:
		summary = "access to card data denied"
	case RuleNoMFA:
		summary = "request without multi-factor authentication"
	case RulePrivilegeElevation:
		summary = "admin role granted to a user"
	}
	key := g.rule + "\x00" + g.subject
	times := append(e.windows[key], g.times...)
	latest := times[0]
	for _, t := range times {
		if t.After(latest) {
			latest = t
		}
	}
	kept := times[:0]
	for _, t := range times {
		if window == 0 || latest.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	if window > 0 {
		e.windows[key] = kept
	}
	if len(kept) < threshold {
		return Alert{}, false
	}
	// A subject that keeps tripping a windowed rule is alerted once per window, not once per batch.
	if last, ok := e.lastFire[key]; ok && window > 0 && latest.Sub(last) < window {
		return Alert{}, false
	}
	e.lastFire[key] = latest
	ids := g.ids
	if len(ids) > maxAlertIDs {
		ids = ids[:maxAlertIDs]
	}
	return Alert{Rule: g.rule, Summary: summary, Subject: g.subject, Count: len(kept), EventIDs: ids,
		Time: latest.UTC().Format(time.RFC3339)}, true
}

// pruneSeen forgets event IDs seen longer ago than any retry would redeliver them.
func (e *Engine) pruneSeen(now time.Time) {
	keep := 2 * max(e.Config.AuthWindow, e.Config.DetokenizeWindow, e.Config.CardWindow, time.Hour)
	for id, t := range e.seen {
		if now.Sub(t) > keep {
			delete(e.seen, id)
		}
	}
}

// Failed records an audit pipeline failure and alerts on it at once.
func (e *Engine) Failed(ctx context.Context, stage string, err error) {
	e.mu.Lock()
	e.init()
	e.counts[MetricPipeline]++
	e.mu.Unlock()
	e.publish(ctx, Alert{
		Rule: RulePipeline, Summary: "audit pipeline failure: " + err.Error(), Subject: stage, Count: 1,
		Time: e.Clock.Now().UTC().Format(time.RFC3339),
	})
}

func (e *Engine) publish(ctx context.Context, a Alert) {
	e.mu.Lock()
	e.init()
	e.alerts[a.Rule]++
	e.mu.Unlock()
	if e.Publisher == nil {
		return
	}
	if err := e.Publisher.Publish(ctx, a); err != nil && e.Log != nil {
		// The metric still records the alert, so a CloudWatch alarm on it catches a lost publish.
		e.Log.Error("publish audit alert", "rule", a.Rule, "error", err)
	}
}

// Flush writes the counts since the last flush as EMF lines: one for the pipeline's counters and
// one per rule that fired.
func (e *Engine) Flush(_ context.Context) {
	e.mu.Lock()
	e.init()
	counts, alerts := e.counts, e.alerts
	e.counts, e.alerts = map[string]float64{}, map[string]float64{}
	e.mu.Unlock()
	if e.Metrics == nil || (len(counts) == 0 && len(alerts) == 0) {
		return
	}
	ts := e.Clock.Now().UnixMilli()
	if len(counts) > 0 {
		e.writeEMF(ts, counts, nil)
	}
	rules := make([]string, 0, len(alerts))
	for r := range alerts {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	for _, r := range rules {
		e.writeEMF(ts, map[string]float64{MetricAlerts: alerts[r]}, map[string]string{"Rule": r})
	}
}

// writeEMF renders one Embedded Metric Format document: the _aws directive naming the metrics and
// dimensions, and their values as top-level fields.
func (e *Engine) writeEMF(ts int64, values map[string]float64, dims map[string]string) {
	doc := map[string]any{"Function": e.Function}
	dimNames := []string{"Function"}
	for k, v := range dims {
		doc[k] = v
		dimNames = append(dimNames, k)
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	var metrics []map[string]string
	for _, n := range names {
		doc[n] = values[n]
		metrics = append(metrics, map[string]string{"Name": n, "Unit": "Count"})
	}
	doc["_aws"] = map[string]any{
		"Timestamp": ts,
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": Namespace, "Dimensions": [][]string{dimNames}, "Metrics": metrics,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return
	}
	_, _ = e.Metrics.Write(append(b, '\n'))
}
