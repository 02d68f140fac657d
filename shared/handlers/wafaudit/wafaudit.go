// Package wafaudit turns the web ACL's log of blocked requests into audit records, so a request the
// WAF refuses before it reaches any function still leaves its record in the audit trail.
package wafaudit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// EventSource names WAF blocks in audit records.
const EventSource = "waf.vaultbill"

// EventNameBlocked is the event name of a block whose URI serves no route of the API.
const EventNameBlocked = "BlockedRequest"

// ActionBlock is the WAF log action of a blocked request; the log group's filter keeps only these.
const ActionBlock = "BLOCK"

// ruleTypeRateBased is the terminating rule type of a block by a rate-based rule.
const ruleTypeRateBased = "RATE_BASED"

// Log is the part of a WAF log line (https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html)
// the audit record is made of. Bodies and query strings are never read from it.
type Log struct {
	// Timestamp is when WAF saw the request, in Unix milliseconds.
	Timestamp           int64       `json:"timestamp"`
	WebACLID            string      `json:"webaclId"`
	TerminatingRuleID   string      `json:"terminatingRuleId"`
	TerminatingRuleType string      `json:"terminatingRuleType"`
	Action              string      `json:"action"`
	HTTPSourceID        string      `json:"httpSourceId"`
	HTTPRequest         HTTPRequest `json:"httpRequest"`
}

// HTTPRequest is the request as WAF logs it.
type HTTPRequest struct {
	ClientIP   string   `json:"clientIp"`
	Headers    []Header `json:"headers"`
	URI        string   `json:"uri"`
	HTTPMethod string   `json:"httpMethod"`
	RequestID  string   `json:"requestId"`
}

// Header is one logged request header (the Authorization header's value is REDACTED by the logging
// configuration).
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Putter writes one audit record; *audit.Store is one. A record whose event ID is already stored is
// not written again, and its put succeeds: it was written once, as asked.
type Putter interface {
	Put(ctx context.Context, rec audit.Record) error
}

// Auditor writes the audit record of every blocked request in a CloudWatch Logs subscription event.
type Auditor struct {
	Audit           Putter
	Account, Region string
	Log             *slog.Logger
}

// Handle is the subscription's Lambda handler. Redelivered batches write nothing twice: a record's
// event ID is derived from the WAF request ID and time, and the outbox keeps the first put of it.
// Any line that cannot be recorded fails the invocation (after the others are written), so Lambda
// retries it rather than losing the record.
func (a *Auditor) Handle(ctx context.Context, ev events.CloudwatchLogsEvent) error {
	data, err := ev.AWSLogs.Parse()
	if err != nil {
		return fmt.Errorf("decode CloudWatch Logs event: %w", err)
	}
	var errs []error
	recorded := 0
	for _, le := range data.LogEvents {
		var l Log
		if err := json.Unmarshal([]byte(le.Message), &l); err != nil {
			errs = append(errs, fmt.Errorf("log event %s of %s is not a WAF log line: %w", le.ID, data.LogGroup, err))
			continue
		}
		if l.Action != ActionBlock {
			continue // the subscription's filter passes only blocks; anything else is not a refusal
		}
		rec := Record(l, a.Account, a.Region)
		if err := a.Audit.Put(ctx, rec); err != nil {
			errs = append(errs, err)
			continue
		}
		recorded++
	}
	a.logger().Info("WAF blocks audited", "log_group", data.LogGroup, "events", len(data.LogEvents),
		"recorded", recorded, "failed", len(errs))
	return errors.Join(errs...)
}

func (a *Auditor) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// Record is the audit record of one blocked request. The caller is unknown (WAF acts before the
// authorizer); the path parameters of the route the URI would have reached are recorded, never the
// query string, headers other than the user agent, or the body.
func Record(l Log, account, region string) audit.Record {
	req := l.HTTPRequest
	method := strings.ToUpper(req.HTTPMethod)
	name, params := EventNameBlocked, map[string]string{}
	if r, p, ok := matchRoute(method, req.URI, l.HTTPSourceID); ok {
		name, params = r.Operation, endpoint.RequestParameters(p, nil)
	}
	code := problem.Forbidden
	if l.TerminatingRuleType == ruleTypeRateBased {
		code = problem.RateLimited
	}
	return audit.Record{
		EventVersion:       audit.EventVersion,
		EventID:            EventID(req.RequestID, l.Timestamp),
		EventTime:          audit.FormatTime(time.UnixMilli(l.Timestamp)),
		EventSource:        EventSource,
		EventName:          name,
		EventType:          audit.TypeAPICall,
		ReadOnly:           method == http.MethodGet,
		UserIdentity:       endpoint.AnonymousIdentity(),
		SourceIPAddress:    req.ClientIP,
		UserAgent:          header(req.Headers, "User-Agent"),
		RequestID:          req.RequestID,
		RequestParameters:  params,
		ErrorCode:          string(code),
		ErrorMessage:       problem.New(code, "").Title() + ": blocked by WAF rule " + l.TerminatingRuleID,
		RecipientAccountID: account,
		AWSRegion:          region,
	}.Redacted() // the URI and user agent are the caller's, and may hold a card number or a token
}

// matchRoute finds the route a blocked URI would have reached. On the API's execute-api endpoint the
// URI starts with the stage name (the last part of httpSourceId, "account:api:stage"); on a custom
// domain it does not.
func matchRoute(method, uri, sourceID string) (routes.Route, map[string]string, bool) {
	path, _, _ := strings.Cut(uri, "?") // WAF logs the query in args; never let it reach a parameter
	if r, p, ok := routes.Match(method, path); ok {
		return r, p, true
	}
	if i := strings.LastIndexByte(sourceID, ':'); i >= 0 {
		if rest, ok := strings.CutPrefix(path, "/"+sourceID[i+1:]+"/"); ok {
			return routes.Match(method, "/"+rest)
		}
	}
	return routes.Route{}, nil, false
}

func header(headers []Header, name string) string {
	for _, h := range headers {
		if strings.EqualFold(h.Name, name) {
			return logging.Redact(h.Value)
		}
	}
	return ""
}

// EventID is the event ID of the record of the WAF request requestID logged at timestamp (Unix ms):
// derived from them, unlike every other event ID, so that a redelivered log event maps to the record
// already written. It has the shape of ids.New(ids.Event); a digest whose text would read as a card
// number is hashed again, as ids.New draws again.
func EventID(requestID string, timestamp int64) string {
	sum := sha256.Sum256([]byte("waf\x00" + requestID + "\x00" + strconv.FormatInt(timestamp, 10)))
	for {
		id := ids.Event + hex.EncodeToString(sum[:16])
		if !logging.ContainsPAN(id) {
			return id
		}
		sum = sha256.Sum256(sum[:])
	}
}
