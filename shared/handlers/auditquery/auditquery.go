// Package auditquery serves GET /v1/audit-events: auditors and admins read the audit records from the
// outbox table's by-time index, newest first, filtered and paged with a cursor.
package auditquery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// QueryAPI is the DynamoDB call the query makes.
type QueryAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store reads audit records from the outbox table.
type Store struct {
	DB    QueryAPI
	Table string
	Clock clock.Func
}

// Filter selects records. Since is inclusive, Until exclusive.
type Filter struct {
	Since      time.Time `json:"s"`
	Until      time.Time `json:"u"`
	Principal  string    `json:"p,omitempty"`
	EventName  string    `json:"e,omitempty"`
	ResourceID string    `json:"r,omitempty"`
}

// position is where a page ended: the last record returned.
type position struct {
	Day      string `json:"d"`
	EventKey string `json:"k"`
	EventID  string `json:"i"`
}

// cursor is the opaque next_cursor: the filter it belongs to and the position after which to resume.
type cursor struct {
	Filter Filter   `json:"f"`
	After  position `json:"a"`
}

// Page is the list response of DESIGN §5.
type Page struct {
	Object     string         `json:"object"`
	Data       []audit.Record `json:"data"`
	HasMore    bool           `json:"has_more"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// Limits of the API.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	// DefaultRange is how far back a query without since reaches.
	DefaultRange = 24 * time.Hour
	// MaxRange bounds one query: the table keeps records a little over a year.
	MaxRange = audit.Retention
)

// Routes adds the route to svc.
func Routes(svc *endpoint.Service, s *Store) {
	svc.Handle("ListAuditEvents", func(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
		f, after, limit, err := s.parse(c.Request.QueryStringParameters)
		if err != nil {
			return nil, err
		}
		page, err := s.List(ctx, f, after, limit)
		if err != nil {
			return nil, err
		}
		return &endpoint.Result{Status: http.StatusOK, Body: page}, nil
	})
}

var (
	// resourceIDPattern keeps resource ids to the characters ids are made of, so the table's
	// contains() pre-filter sees them exactly as they are stored in the record's JSON.
	resourceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,255}$`)
	namePattern       = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)
	allowedParams     = map[string]bool{"since": true, "until": true, "principal": true, "event_name": true, "resource_id": true, "limit": true, "cursor": true}
)

// parse validates the query string. An unknown parameter is refused: a misspelt filter must not
// silently return everything to an auditor.
func (s *Store) parse(q map[string]string) (Filter, *position, int, error) {
	var bad []problem.FieldError
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !allowedParams[k] {
			bad = append(bad, problem.FieldError{Field: k, Message: "unknown parameter"})
		}
	}
	limit := DefaultLimit
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			bad = append(bad, problem.FieldError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d", MaxLimit)})
		}
		limit = n
	}
	var f Filter
	var after *position
	if v, ok := q["cursor"]; ok {
		c, err := decodeCursor(v)
		if err != nil {
			bad = append(bad, problem.FieldError{Field: "cursor", Message: "is not a cursor returned by this API"})
		} else {
			f, after = c.Filter, &c.After
		}
	}
	times := map[string]*time.Time{"since": &f.Since, "until": &f.Until}
	for _, k := range []string{"since", "until"} {
		v, ok := q[k]
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		switch {
		case err != nil:
			bad = append(bad, problem.FieldError{Field: k, Message: "must be an RFC 3339 time such as 2026-01-31T09:00:00Z"})
		case after != nil && !t.Equal(*times[k]):
			bad = append(bad, problem.FieldError{Field: k, Message: "differs from the query the cursor belongs to"})
		default:
			*times[k] = t.UTC()
		}
	}
	strs := []struct {
		name    string
		dst     *string
		pattern *regexp.Regexp
	}{{"principal", &f.Principal, namePattern}, {"event_name", &f.EventName, namePattern}, {"resource_id", &f.ResourceID, resourceIDPattern}}
	for _, p := range strs {
		v, ok := q[p.name]
		switch {
		case !ok:
		case !p.pattern.MatchString(v):
			bad = append(bad, problem.FieldError{Field: p.name, Message: "has characters or a length an id cannot have"})
		case after != nil && v != *p.dst:
			bad = append(bad, problem.FieldError{Field: p.name, Message: "differs from the query the cursor belongs to"})
		default:
			*p.dst = v
		}
	}
	if after == nil {
		if f.Until.IsZero() {
			// Records carry whole seconds; the current second is included.
			f.Until = s.Clock.Now().UTC().Truncate(time.Second).Add(time.Second)
		}
		if f.Since.IsZero() {
			f.Since = f.Until.Add(-DefaultRange)
		}
	}
	if len(bad) == 0 {
		switch {
		case !f.Since.Before(f.Until):
			bad = append(bad, problem.FieldError{Field: "since", Message: "must be before until"})
		case f.Until.Sub(f.Since) > MaxRange:
			bad = append(bad, problem.FieldError{Field: "since", Message: "the range may span at most 395 days"})
		}
	}
	if len(bad) > 0 {
		return Filter{}, nil, 0, problem.Invalid(bad...)
	}
	return f, after, limit, nil
}

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, err
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return cursor{}, err
	}
	if c.After.Day == "" || c.After.EventKey == "" || c.After.EventID == "" || c.Filter.Until.IsZero() {
		return cursor{}, fmt.Errorf("incomplete cursor")
	}
	return c, nil
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c) // plain strings and times always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

// List returns up to limit records matching f, newest first, after the position of a previous page.
// It reads the by-time index one UTC day at a time, from the newest day back.
func (s *Store) List(ctx context.Context, f Filter, after *position, limit int) (Page, error) {
	lo := f.Since.Truncate(time.Second).Format(time.RFC3339)
	hi := f.Until.Add(-time.Nanosecond).Truncate(time.Second).Format(time.RFC3339) + "#~" // '~' sorts after every event ID
	var matches []audit.Record
	var positions []position
	first := f.Until.Add(-time.Nanosecond).Truncate(24 * time.Hour)
	for day := first; !day.Before(f.Since.Truncate(24*time.Hour)) && len(matches) <= limit; day = day.Add(-24 * time.Hour) {
		d := day.Format(time.DateOnly)
		if after != nil && d > after.Day {
			continue
		}
		in := s.queryInput(f, d, lo, hi, limit)
		if after != nil && d == after.Day {
			in.ExclusiveStartKey = map[string]types.AttributeValue{
				resources.AuditEventID: &types.AttributeValueMemberS{Value: after.EventID},
				resources.AuditDay:     &types.AttributeValueMemberS{Value: after.Day},
				resources.AuditSortKey: &types.AttributeValueMemberS{Value: after.EventKey},
			}
		}
		for len(matches) <= limit {
			out, err := s.DB.Query(ctx, in)
			if err != nil {
				return Page{}, problem.Wrap(problem.ServiceUnavailable, fmt.Errorf("query audit events of %s: %w", d, err), "The audit store is unavailable; retry later.")
			}
			for _, item := range out.Items {
				rec, err := audit.Decode(item)
				if err != nil {
					return Page{}, fmt.Errorf("audit events of %s: %w", d, err)
				}
				if f.ResourceID != "" && !mentions(rec, f.ResourceID) {
					continue
				}
				matches = append(matches, rec)
				key, _ := item[resources.AuditSortKey].(*types.AttributeValueMemberS)
				if key == nil {
					return Page{}, fmt.Errorf("audit item %s has no %s", rec.EventID, resources.AuditSortKey)
				}
				positions = append(positions, position{Day: d, EventKey: key.Value, EventID: rec.EventID})
				if len(matches) > limit {
					break
				}
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	page := Page{Object: "list", Data: matches}
	if page.Data == nil {
		page.Data = []audit.Record{}
	}
	if len(matches) > limit {
		page.Data, page.HasMore = matches[:limit], true
		page.NextCursor = encodeCursor(cursor{Filter: f, After: positions[limit-1]})
	}
	return page, nil
}

func (s *Store) queryInput(f Filter, day, lo, hi string, limit int) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		IndexName:                 aws.String(resources.AuditByTime),
		KeyConditionExpression:    aws.String("#day = :day AND #key BETWEEN :lo AND :hi"),
		ExpressionAttributeNames:  map[string]string{"#day": resources.AuditDay, "#key": resources.AuditSortKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":day": str(day), ":lo": str(lo), ":hi": str(hi)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit + 1)),
	}
	var conds []string
	add := func(attr, op, v string) {
		n := fmt.Sprintf("#f%d", len(conds))
		p := fmt.Sprintf(":f%d", len(conds))
		in.ExpressionAttributeNames[n] = attr
		in.ExpressionAttributeValues[p] = str(v)
		if op == "contains" {
			conds = append(conds, "contains("+n+", "+p+")")
		} else {
			conds = append(conds, n+" = "+p)
		}
	}
	if f.Principal != "" {
		add(audit.AttrPrincipal, "=", f.Principal)
	}
	if f.EventName != "" {
		add(audit.AttrEventName, "=", f.EventName)
	}
	if f.ResourceID != "" {
		// A cheap pre-filter on the record's text; mentions() then checks the fields exactly.
		add(audit.AttrRecord, "contains", f.ResourceID)
	}
	if len(conds) > 0 {
		expr := conds[0]
		for _, c := range conds[1:] {
			expr += " AND " + c
		}
		in.FilterExpression = aws.String(expr)
	}
	return in
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// mentions reports whether a record names id as a resource, a path parameter or a response id.
func mentions(r audit.Record, id string) bool {
	for _, res := range r.Resources {
		if res.ID == id || res.ARN == id {
			return true
		}
	}
	for _, m := range []map[string]string{r.RequestParameters, r.ResponseElements} {
		for _, v := range m {
			if v == id {
				return true
			}
		}
	}
	return false
}
