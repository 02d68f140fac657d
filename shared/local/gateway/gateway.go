// Package gateway is the local stand-in for API Gateway's REST API: it turns an HTTP request into the
// proxy event API Gateway would send, runs the Lambda authorizer, then the route's function, in process.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// AuthorizerFunc is a Lambda REQUEST authorizer.
type AuthorizerFunc func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Function is a Lambda proxy-integration handler.
type Function func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Gateway serves the route table.
type Gateway struct {
	Authorizer AuthorizerFunc
	// Functions maps routes.Function names to handlers.
	Functions map[string]Function
	Account   string
	Region    string
	Log       *slog.Logger
}

// Stage and APIID name the local API in method ARNs, as a deployed stage would.
const (
	Stage = "local"
	APIID = "local"
)

// API Gateway's own error bodies; clients of the real service see exactly these.
const (
	msgUnauthorized = `{"message":"Unauthorized"}`
	msgMissingToken = `{"message":"Missing Authentication Token"}`
	msgInternal     = `{"message":"Internal server error"}`
)

// maxRequestBytes is API Gateway's payload limit (10 MB); the functions apply the API's own 64 KiB limit.
const maxRequestBytes = 10 << 20

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/health" {
		writeRaw(w, http.StatusOK, "application/json", `{"status":"ok"}`, "")
		return
	}
	requestID := newRequestID()
	route, params, ok := routes.Match(r.Method, r.URL.Path)
	if !ok {
		// API Gateway answers unknown resources and methods with 403 "Missing Authentication Token".
		writeRaw(w, http.StatusForbidden, "application/json", msgMissingToken, requestID)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil || len(body) > maxRequestBytes {
		writeRaw(w, http.StatusRequestEntityTooLarge, "application/json", `{"message":"Request Too Long"}`, requestID)
		return
	}
	ev := proxyEvent(r, route, params, body, requestID)
	if !route.CapabilityChecked() && !g.authorize(w, r, &ev, requestID) {
		return
	}
	g.invoke(w, r, route, ev, requestID)
}

// authorize runs the authorizer as API Gateway does before a route that has one; it writes the
// refusal and returns false when the request may not go on.
func (g *Gateway) authorize(w http.ResponseWriter, r *http.Request, ev *events.APIGatewayProxyRequest, requestID string) bool {
	authResp, err := g.Authorizer(r.Context(), g.authorizerEvent(*ev))
	switch {
	case err != nil && err.Error() == "Unauthorized":
		writeRaw(w, http.StatusUnauthorized, httpapi.ProblemContentType, httpapi.UnauthorizedBody(requestID), requestID)
		return false
	case err != nil:
		g.Log.Error("authorizer failed", "request_id", requestID, "error", err)
		writeRaw(w, http.StatusInternalServerError, "application/json", msgInternal, requestID)
		return false
	case !allows(authResp.PolicyDocument):
		writeRaw(w, http.StatusForbidden, httpapi.ProblemContentType, httpapi.DeniedBody(authResp.Context, requestID), requestID)
		return false
	}
	ev.RequestContext.Authorizer = map[string]any{"principalId": authResp.PrincipalID}
	for k, v := range authResp.Context {
		ev.RequestContext.Authorizer[k] = v
	}
	return true
}

func (g *Gateway) invoke(w http.ResponseWriter, r *http.Request, route routes.Route, ev events.APIGatewayProxyRequest, requestID string) {

	fn := g.Functions[route.Function]
	if fn == nil {
		p := httpapi.Error(problem.New(problem.NotFound, "The %s function is not part of this stack.", route.Function), requestID, nil)
		writeRaw(w, http.StatusNotImplemented, p.Headers["Content-Type"], p.Body, requestID)
		return
	}
	resp, err := fn(r.Context(), ev)
	if err != nil {
		// A handler error is a Lambda failure: API Gateway hides it behind a 502.
		g.Log.Error("function failed", "function", route.Function, "request_id", requestID, "error", err)
		writeRaw(w, http.StatusBadGateway, "application/json", msgInternal, requestID)
		return
	}
	writeProxyResponse(w, resp, requestID)
}

func allows(doc events.APIGatewayCustomAuthorizerPolicy) bool {
	allow := false
	for _, s := range doc.Statement {
		switch s.Effect {
		case "Deny":
			return false // an explicit deny always wins, as in IAM
		case "Allow":
			allow = true
		}
	}
	return allow
}

func proxyEvent(r *http.Request, route routes.Route, params map[string]string, body []byte, requestID string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{
		Resource:   route.Path,
		Path:       r.URL.Path,
		HTTPMethod: r.Method,
		Headers:    map[string]string{}, MultiValueHeaders: map[string][]string{},
		PathParameters: params,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID:        requestID,
			Stage:            Stage,
			APIID:            APIID,
			ResourcePath:     route.Path,
			HTTPMethod:       r.Method,
			Path:             "/" + Stage + r.URL.Path,
			Protocol:         r.Proto,
			RequestTime:      time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: time.Now().UnixMilli(),
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  sourceIP(r),
				UserAgent: r.UserAgent(),
			},
		},
	}
	for k, vs := range r.Header {
		ev.Headers[k] = vs[len(vs)-1] // API Gateway keeps the last value in the single-value map
		ev.MultiValueHeaders[k] = vs
	}
	if r.Host != "" { // net/http moves Host out of the header map; API Gateway's event has it
		ev.Headers["Host"], ev.MultiValueHeaders["Host"] = r.Host, []string{r.Host}
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = map[string]string{}, map[string][]string{}
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
			ev.MultiValueQueryStringParameters[k] = vs
		}
	}
	if len(params) == 0 {
		ev.PathParameters = nil
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func (g *Gateway) authorizerEvent(ev events.APIGatewayProxyRequest) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:                            "REQUEST",
		MethodArn:                       "arn:aws:execute-api:" + g.Region + ":" + g.Account + ":" + APIID + "/" + Stage + "/" + ev.HTTPMethod + ev.Resource,
		Resource:                        ev.Resource,
		Path:                            ev.Path,
		HTTPMethod:                      ev.HTTPMethod,
		Headers:                         ev.Headers,
		MultiValueHeaders:               ev.MultiValueHeaders,
		QueryStringParameters:           ev.QueryStringParameters,
		MultiValueQueryStringParameters: ev.MultiValueQueryStringParameters,
		PathParameters:                  ev.PathParameters,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path: ev.RequestContext.Path, AccountID: g.Account, ResourceID: ev.Resource, Stage: Stage,
			RequestID: ev.RequestContext.RequestID, ResourcePath: ev.Resource, HTTPMethod: ev.HTTPMethod, APIID: APIID,
			Identity: events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: ev.RequestContext.Identity.SourceIP},
		},
	}
}

func writeProxyResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse, requestID string) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			writeRaw(w, http.StatusBadGateway, "application/json", msgInternal, requestID)
			return
		}
	}
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func writeRaw(w http.ResponseWriter, status int, contentType, body, requestID string) {
	w.Header().Set("Content-Type", contentType)
	if requestID != "" {
		w.Header().Set("X-Amzn-RequestId", requestID)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// newRequestID returns a random request id shaped like API Gateway's (a UUID). One in a few hundred
// random UUIDs has dash-joined decimal groups that pass the Luhn check, which every redaction then
// masks as a card number in the logs and the audit record (without an alert: audit.Guard); those are
// drawn again here, so that tests can find a request by its id.
func newRequestID() string {
	for {
		var b [16]byte
		_, _ = rand.Read(b[:])
		h := hex.EncodeToString(b[:])
		id := strings.Join([]string{h[:8], h[8:12], h[12:16], h[16:20], h[20:]}, "-")
		if !logging.ContainsPAN(id) {
			return id
		}
	}
}
