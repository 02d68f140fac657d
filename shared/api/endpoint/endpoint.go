// Package endpoint runs an API handler the same way for every route: it establishes the principal,
// checks the permission table, applies idempotency, writes the audit record, and renders the response.
// Handlers hold only the logic of their route.
package endpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/idempotency"
	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// DB is the DynamoDB calls the runtime makes for audit records and idempotency.
type DB interface {
	idempotency.DB
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Handler serves one route. It returns the result, or an error (a *problem.Error for the client).
type Handler func(ctx context.Context, c *Call) (*Result, error)

// Result is a handler's successful response.
type Result struct {
	Status int
	Body   any
	// Response, when set, is sent as is instead of Body as JSON: the hosted page's HTML and assets.
	Response *events.APIGatewayProxyResponse
}

// Grant is what a hosted invoice link allows: acting as the invoice's customer on that one invoice.
type Grant struct {
	Principal auth.Principal
	// LinkID names the link in audit records; the link itself is a secret and is never recorded.
	LinkID    string
	InvoiceID string
}

// LinkIdentity is the audit userIdentity type of a request made with a hosted invoice link.
const LinkIdentity = "HostedInvoiceLink"

// Service is the runtime shared by a function's routes.
type Service struct {
	// Source is the audit eventSource, e.g. "invoices.vaultbill".
	Source      string
	DB          DB
	Audit       *audit.Store
	Idempotency *idempotency.Store
	Account     string
	Region      string
	Log         *slog.Logger
	Clock       clock.Func
	// RequestHash, when set, replaces idempotency.Fingerprint as the hash of a POST that is kept with
	// its Idempotency-Key. A function whose bodies hold card numbers sets a keyed hash: a plain SHA-256
	// of a body with a card number in it is an unkeyed hash of the number (PCI DSS 3.5.1.1).
	RequestHash func(ctx context.Context, method, path string, body []byte) (string, error)
	// Capability resolves the link of a capability-checked route (routes.Route.CapabilityChecked) into
	// its grant; nil refuses every such route that carries a link. The operation is passed so that a
	// spent link can still show its paid page while every payment route refuses it.
	Capability func(ctx context.Context, operation, link string) (Grant, error)
	// RenderError, when set, renders a refusal on a capability-checked route for a browser (an HTML page
	// instead of problem+json); ok false keeps the problem+json response.
	RenderError func(c *Call, err error) (resp events.APIGatewayProxyResponse, ok bool)
	handlers    map[string]Handler

	// Outcomes seals kept responses that hold personal data (see Call.SealOutcomeFor, outcome.go).
	Outcomes OutcomeCipher
}

// Handle registers h for the route with the given operation name. It panics on an unknown operation,
// which is a wiring bug found at cold start, never at request time.
func (s *Service) Handle(operation string, h Handler) {
	for _, r := range routes.All {
		if r.Operation == operation {
			if s.handlers == nil {
				s.handlers = map[string]Handler{}
			}
			s.handlers[r.Key()] = h
			return
		}
	}
	panic("endpoint: no route with operation " + operation)
}

// Call is one request being served.
type Call struct {
	Request   *events.APIGatewayProxyRequest
	Principal auth.Principal
	Route     routes.Route
	// Resources are the objects the request touched; they go into the audit record.
	Resources []audit.Resource

	svc       *Service
	record    audit.Record
	committed bool
	claim     *idempotency.Claim
	responded *events.APIGatewayProxyResponse
	// inputErr refuses a malformed path or query parameter once the caller is authorized.
	inputErr error

	// outcomeSubject, when set, is whose personal data the response holds (SealOutcomeFor).
	outcomeSubject string
}

// Decode parses the request body strictly into v.
func (c *Call) Decode(v any) error { return httpapi.Decode(c.Request, v) }

// PathParam returns a path parameter such as {id}.
func (c *Call) PathParam(name string) string { return c.Request.PathParameters[name] }

// Query returns a query string parameter.
func (c *Call) Query(name string) string { return c.Request.QueryStringParameters[name] }

// Touch adds a resource to the audit record, once however often a handler that reads again after a
// lost race names it.
func (c *Call) Touch(typ, id string) {
	r := audit.Resource{Type: typ, ID: id}
	if !slices.Contains(c.Resources, r) {
		c.Resources = append(c.Resources, r)
	}
}

// Log is the request's logger (JSON, redacted, tagged with the request id).
func (c *Call) Log() *slog.Logger { return c.svc.Log.With("request_id", c.record.RequestID) }

// Commit writes items, the request's audit record and its idempotent outcome in one DynamoDB
// transaction, so a change is never stored without its record, or its record without it. Items keep
// their positions in a TransactionCanceledException's reasons; the runtime's own writes come after them.
func (c *Call) Commit(ctx context.Context, status int, body any, items ...types.TransactWriteItem) (*Result, error) {
	resp, err := httpapi.JSON(status, body, nil)
	if err != nil {
		return nil, err
	}
	c.record.ResponseElements = responseElements(body)
	c.record.Resources = c.Resources
	rec, err := c.svc.Audit.TransactItem(c.record.Redacted())
	if err != nil {
		return nil, err
	}
	all := append(items[:len(items):len(items)], rec)
	if c.claim != nil {
		kept, err := c.svc.storedBody(ctx, c, resp.Body)
		if err != nil {
			return nil, err
		}
		all = append(all, c.svc.Idempotency.CompleteItem(c.claim, idempotency.Response{
			Status: resp.StatusCode, ContentType: resp.Headers["Content-Type"], Body: kept,
		}))
	}
	if _, err := c.svc.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: all}); err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Route.Operation, err)
	}
	c.committed = true
	c.responded = &resp
	return &Result{Status: status, Body: body}, nil
}

// AuditEvent builds a further record in this request's context, such as the Detokenize record that
// accompanies every decryption of a card number.
func (c *Call) AuditEvent(name string, readOnly bool, res ...audit.Resource) audit.Record {
	r := c.record
	r.EventID = audit.NewEventID()
	r.EventName = name
	r.EventType = audit.TypeServiceEvent
	r.ReadOnly = readOnly
	r.Resources = res
	r.ResponseElements = nil
	return r.Redacted()
}

// Serve is the Lambda entry point for the function's routes.
func (s *Service) Serve(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	requestID := req.RequestContext.RequestID
	log := s.Log.With("request_id", requestID)
	ctx = logging.Into(ctx, log)
	headers := map[string]string{"X-Request-Id": requestID}

	route, ok := routes.Lookup(req.HTTPMethod, req.Resource)
	h := s.handlers[route.Key()]
	if !ok || h == nil {
		// Behind API Gateway this means the deployment and the code disagree.
		log.Error("no handler for route", "method", req.HTTPMethod, "resource", req.Resource)
		return httpapi.Error(problem.New(problem.NotFound, "No such route."), requestID, headers), nil
	}
	c := &Call{Request: &req, Route: route, svc: s}
	var bad map[string]bool
	bad, c.inputErr = checkInput(&req, route)
	c.record = s.newRecord(&req, route, bad)

	result, err := s.run(ctx, c, h)
	err = unavailable(err)
	var resp events.APIGatewayProxyResponse
	switch {
	case c.responded != nil: // committed, or an idempotent replay
		resp = *c.responded
		for k, v := range headers {
			resp.Headers[k] = v
		}
	case err != nil:
		resp = httpapi.Error(err, requestID, headers)
		if s.RenderError != nil && route.CapabilityChecked() {
			if page, ok := s.RenderError(c, err); ok {
				resp = withHeaders(page, headers)
			}
		}
	case result.Response != nil:
		resp = withHeaders(*result.Response, headers)
	default:
		if resp, err = httpapi.JSON(result.Status, result.Body, headers); err != nil {
			resp = httpapi.Error(err, requestID, headers)
		}
	}
	if err != nil {
		logError(log, route, err)
	}
	return s.finish(ctx, c, resp, err), nil
}

func withHeaders(resp events.APIGatewayProxyResponse, headers map[string]string) events.APIGatewayProxyResponse {
	out := map[string]string{}
	for k, v := range resp.Headers {
		out[k] = v
	}
	for k, v := range headers {
		out[k] = v
	}
	resp.Headers = out
	return resp
}

func (s *Service) run(ctx context.Context, c *Call, h Handler) (*Result, error) {
	if c.Route.CapabilityChecked() {
		return s.runLink(ctx, c, h)
	}
	p, err := auth.FromContext(c.Request.RequestContext.Authorizer)
	if err != nil {
		return nil, err
	}
	c.Principal = p
	c.record.UserIdentity = identity(p)
	if err := p.Authorize(c.Route.Action); err != nil {
		return nil, err
	}
	if c.inputErr != nil {
		return nil, c.inputErr
	}
	if c.Request.HTTPMethod == http.MethodPost {
		if err := s.beginIdempotent(ctx, c); err != nil || c.responded != nil {
			return nil, err
		}
	}
	return h(ctx, c)
}

// linkMark stands for a hosted invoice link in the audit record until it resolves to its id: the link
// is a bearer secret and is never recorded.
const linkMark = "[link]"

// linkParam is the path parameter of a capability-checked route that holds the link.
const linkParam = "link"

// runLink serves a capability-checked route: no authorizer ran, so the principal is the one the link in
// the path grants (the invoice's customer, for that invoice only), and the invoice id the handlers read
// is the link's, whatever else the request says. A route without a link (a static asset) runs with no
// principal at all.
func (s *Service) runLink(ctx context.Context, c *Call, h Handler) (*Result, error) {
	c.record.UserIdentity = audit.UserIdentity{Type: LinkIdentity, SessionContext: mfa(false)}
	link, hasLink := c.Request.PathParameters[linkParam]
	if c.inputErr != nil {
		return nil, c.inputErr
	}
	if hasLink {
		if s.Capability == nil {
			return nil, problem.New(problem.NotFound, "No such link.")
		}
		g, err := s.Capability(ctx, c.Route.Operation, link)
		if err != nil {
			return nil, err
		}
		c.Principal = g.Principal
		c.record.UserIdentity.PrincipalID = g.LinkID
		c.record.RequestParameters[linkParam] = g.LinkID
		params := map[string]string{"id": g.InvoiceID}
		for k, v := range c.Request.PathParameters {
			if k != "id" {
				params[k] = v
			}
		}
		c.Request.PathParameters = params
	}
	if c.Request.HTTPMethod == http.MethodPost && hasLink {
		if err := s.beginIdempotent(ctx, c); err != nil || c.responded != nil {
			return nil, err
		}
	}
	return h(ctx, c)
}

func (s *Service) beginIdempotent(ctx context.Context, c *Call) error {
	key := httpapi.Header(c.Request, "Idempotency-Key")
	if key == "" {
		return nil
	}
	if err := idempotency.ValidateKey(key); err != nil {
		return err
	}
	body, err := httpapi.Body(c.Request)
	if err != nil {
		return err
	}
	if s.RequestHash == nil && logging.ContainsPAN(string(body)) {
		// Only the card vault takes card numbers, and it hashes bodies with a key. Anywhere else the
		// body is refused (its decoder would refuse it too) before an unkeyed hash of it is kept.
		return problem.Malformed("The request body holds a card number; this route takes none.")
	}
	hash := idempotency.Fingerprint(c.Request.HTTPMethod, c.Request.Path, body)
	if s.RequestHash != nil {
		if hash, err = s.RequestHash(ctx, c.Request.HTTPMethod, c.Request.Path, body); err != nil {
			return err
		}
	}
	claim, saved, err := s.Idempotency.Begin(ctx, c.Principal.ID, key, hash)
	if err != nil {
		return err
	}
	if saved != nil {
		body, err := s.replayBody(ctx, saved.Body)
		if err != nil {
			return err
		}
		c.responded = &events.APIGatewayProxyResponse{
			StatusCode: saved.Status,
			Headers:    map[string]string{"Content-Type": saved.ContentType, "Idempotent-Replayed": "true"},
			Body:       body,
		}
		c.record.ResponseElements = map[string]string{"idempotentReplay": "true"}
		return nil
	}
	c.claim = claim
	return nil
}

// finish writes what the handler did not commit: the audit record of a read, a denial or a failure,
// and the idempotent outcome. The two commit in one transaction, so an outcome is never kept (and
// replayed to the client's retry) without its record. If the audit record cannot be written the
// client gets a 503 (a dependency fault) or a 500, never a response without its record, and the key is
// freed for the retry.
func (s *Service) finish(ctx context.Context, c *Call, resp events.APIGatewayProxyResponse, err error) events.APIGatewayProxyResponse {
	if c.committed {
		return resp
	}
	requestID := c.record.RequestID
	if err != nil {
		c.record.ErrorCode = string(problem.CodeOf(err))
		c.record.ErrorMessage = problem.From(err).Title()
	} else if c.record.ResponseElements == nil && resp.StatusCode < 300 {
		c.record.ResponseElements = responseElementsJSON(resp.Body)
	}
	c.record.Resources = c.Resources
	rec := c.record.Redacted()
	var aerr error
	if c.claim != nil && replayable(resp.StatusCode) {
		aerr = s.commitOutcome(ctx, c, rec, resp)
	} else {
		aerr = s.Audit.Put(ctx, rec)
	}
	aerr = unavailable(aerr)
	if c.claim != nil && (aerr != nil || !replayable(resp.StatusCode)) {
		if rerr := s.Idempotency.Release(ctx, c.claim); rerr != nil {
			c.Log().Error("release idempotency key", "error", rerr)
		}
	}
	if aerr != nil {
		c.Log().Error("audit write failed; failing the request", "error", aerr)
		return httpapi.Error(aerr, requestID, map[string]string{"X-Request-Id": requestID})
	}
	return resp
}

// commitOutcome writes the request's audit record and its idempotent outcome in one transaction.
func (s *Service) commitOutcome(ctx context.Context, c *Call, rec audit.Record, resp events.APIGatewayProxyResponse) error {
	item, err := s.Audit.TransactItem(rec)
	if err != nil {
		return err
	}
	kept, err := s.storedBody(ctx, c, resp.Body)
	if err != nil {
		return err
	}
	outcome := s.Idempotency.CompleteItem(c.claim, idempotency.Response{
		Status: resp.StatusCode, ContentType: resp.Headers["Content-Type"], Body: kept,
	})
	if _, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{item, outcome}}); err != nil {
		return fmt.Errorf("write audit record and idempotent outcome of %s: %w", c.Route.Operation, err)
	}
	return nil
}

// replayable reports whether a response is the settled outcome of a request. Faults and conflicts are
// not: the client's retry must run again.
func replayable(status int) bool {
	return status < 500 && status != http.StatusConflict && status != http.StatusTooManyRequests
}

func logError(log *slog.Logger, route routes.Route, err error) {
	e := problem.From(err)
	if e.Code == problem.Internal || e.Code == problem.ServiceUnavailable {
		log.Error("request failed", "operation", route.Operation, "code", e.Code, "error", err)
		return
	}
	log.Info("request refused", "operation", route.Operation, "code", e.Code, "detail", e.Detail)
}

// newRecord starts the request's audit record. Parameters named in bad were refused by checkInput and
// are recorded as invalidMark; every other string is redacted when the record is written.
func (s *Service) newRecord(req *events.APIGatewayProxyRequest, route routes.Route, bad map[string]bool) audit.Record {
	params := RequestParameters(req.PathParameters, req.QueryStringParameters)
	for k := range bad {
		if _, ok := params[k]; ok {
			params[k] = invalidMark
		}
	}
	return audit.Record{
		EventVersion:       audit.EventVersion,
		EventID:            audit.NewEventID(),
		EventTime:          audit.FormatTime(s.Clock.Now()),
		EventSource:        s.Source,
		EventName:          route.Operation,
		EventType:          audit.TypeAPICall,
		ReadOnly:           route.ReadOnly(),
		UserIdentity:       audit.UserIdentity{Type: "Unknown", SessionContext: mfa(false)},
		SourceIPAddress:    req.RequestContext.Identity.SourceIP,
		UserAgent:          req.RequestContext.Identity.UserAgent,
		RequestID:          req.RequestContext.RequestID,
		RequestParameters:  params,
		RecipientAccountID: s.Account,
		AWSRegion:          s.Region,
	}
}

// RequestParameters records path and query parameters only. Bodies are never recorded: they hold card
// numbers and personal data. Values pass through redaction in case a client put a secret in a URL.
func RequestParameters(path, query map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range path {
		out[k] = logging.Redact(v)
	}
	// A hosted page link is a bearer secret: whoever reads it may see and pay the invoice. Every record
	// (the runtime's, a WAF block's) names it by this mark, or by its id once resolved.
	if _, ok := path[linkParam]; ok {
		out[linkParam] = linkMark
	}
	for k, v := range query {
		out[k] = logging.Redact(v)
	}
	return out
}

func identity(p auth.Principal) audit.UserIdentity {
	sc := mfa(p.MFA)
	sc.Attributes.MFAProof = string(p.MFAProof)
	return audit.UserIdentity{
		Type: "CognitoUser", PrincipalID: p.ID, UserName: p.Username, Role: string(p.Role),
		SessionContext: sc,
	}
}

func mfa(on bool) audit.SessionContext {
	v := "false"
	if on {
		v = "true"
	}
	return audit.SessionContext{Attributes: audit.SessionAttributes{MFAAuthenticated: v}}
}

// IdentityOf is the audit identity of a principal (the authorizer uses it for its denials).
func IdentityOf(p auth.Principal) audit.UserIdentity { return identity(p) }

// AnonymousIdentity is the audit identity of a caller whose token was rejected.
func AnonymousIdentity() audit.UserIdentity {
	return audit.UserIdentity{Type: "Unknown", SessionContext: mfa(false)}
}

// responseElements keeps only identifiers of a response body: DESIGN §5 allows ids, nothing else.
func responseElements(body any) map[string]string {
	b, err := json.Marshal(body)
	if err != nil {
		return nil
	}
	return responseElementsJSON(string(b))
}

func responseElementsJSON(body string) map[string]string {
	var top map[string]json.RawMessage
	if json.Unmarshal([]byte(body), &top) != nil {
		return nil
	}
	out := map[string]string{}
	for _, k := range idFields {
		var v string
		if raw, ok := top[k]; ok && json.Unmarshal(raw, &v) == nil && v != "" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// idFields are the response fields copied into audit records: identifiers, never values.
var idFields = []string{"id", "object", "customer_id", "invoice_id", "token", "number"}
