// Package authorizer is the Lambda REQUEST authorizer: it turns a bearer JWT into a principal with a
// role, or refuses the request, and audits every refusal (allowed requests are audited by the handler).
//
// The API takes Cognito ID tokens (token_use "id"), not access tokens: a customer's principal is scoped
// by the custom:customer_id attribute, which Cognito puts in ID tokens only. The verifier refuses
// access tokens (401).
package authorizer

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/jwt"
	"github.com/vaultbill/vaultbill/shared/adapters/sessions"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// ErrUnauthorized is the exact error API Gateway turns into a 401 response.
var ErrUnauthorized = errors.New("Unauthorized")

// Verifier checks a token and returns its claims.
type Verifier interface {
	Verify(ctx context.Context, token string) (jwt.Claims, error)
}

// AuditWriter writes one audit record.
type AuditWriter interface {
	Put(ctx context.Context, rec audit.Record) error
}

// SessionEpochs returns the instant before which a user's tokens are revoked (shared/adapters/sessions).
type SessionEpochs interface {
	NotBefore(ctx context.Context, subject string) (time.Time, error)
}

// Authorizer decides on each request.
type Authorizer struct {
	Verifier Verifier
	Audit    AuditWriter
	// MFAPools are the issuers whose user pool requires MFA of every user (the template tests pin
	// that setting for the deployed pool), so their tokens prove MFA even without an amr claim, which
	// Cognito does not always issue. Any other issuer proves MFA only by amr.
	MFAPools []string
	// Sessions, when set, refuses tokens issued before their user's session epoch: a disabled, signed
	// out or re-roled user's earlier tokens stop working within API Gateway's authorizer cache TTL.
	Sessions SessionEpochs
	Account  string
	Region   string
	Log      *slog.Logger
	Clock    clock.Func
}

// Handle is the Lambda entry point.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	log := a.Log.With("request_id", req.RequestContext.RequestID)
	token, ok := bearer(req.Headers)
	if !ok {
		return a.unauthorized(ctx, log, req, "missing bearer token")
	}
	claims, err := a.Verifier.Verify(ctx, token)
	if err != nil {
		// The reason is logged (it names the failed check, never the token); the client learns nothing.
		return a.unauthorized(ctx, log, req, err.Error())
	}
	role, ok := auth.RoleFromGroups(claims.Groups)
	proof := a.mfaProof(claims)
	p := auth.Principal{ID: claims.Subject, Username: claims.Username, Role: role, CustomerID: claims.CustomerID,
		MFA: proof != auth.MFANone, MFAProof: proof}
	switch {
	case claims.Subject == "":
		return a.unauthorized(ctx, log, req, "token has no subject")
	}
	if a.Sessions != nil {
		notBefore, err := a.Sessions.NotBefore(ctx, claims.Subject)
		if err != nil { // fail closed: an unreadable epoch could hide a revocation
			log.Error("session epoch read failed", "error", err)
			return events.APIGatewayCustomAuthorizerResponse{}, err
		}
		if sessions.Revoked(claims.IssuedAt, notBefore) {
			return a.unauthorized(ctx, log, req, "token revoked")
		}
	}
	switch {
	case !ok:
		return a.deny(ctx, log, req, p, problem.Forbidden, "token carries no known role")
	case role == auth.Customer && claims.CustomerID == "":
		return a.deny(ctx, log, req, p, problem.Forbidden, "customer token without custom:customer_id")
	case !p.MFA:
		return a.deny(ctx, log, req, p, problem.MFARequired, "token was issued without MFA")
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID:    p.ID,
		PolicyDocument: policy("Allow", req.MethodArn),
		Context:        p.Context(),
	}, nil
}

// mfaProof implements DESIGN §4: amr naming mfa proves MFA for any issuer; otherwise only an issuer
// configured as an MFA-required pool does.
func (a *Authorizer) mfaProof(c jwt.Claims) auth.MFAProof {
	switch {
	case c.HasMFA():
		return auth.MFAByAMR
	case slices.Contains(a.MFAPools, c.Issuer):
		return auth.MFAByPool
	}
	return auth.MFANone
}

func (a *Authorizer) unauthorized(ctx context.Context, log *slog.Logger, req events.APIGatewayCustomAuthorizerRequestTypeRequest, reason string) (events.APIGatewayCustomAuthorizerResponse, error) {
	log.Info(resources.LogTokenRejected, "reason", reason, "source_ip", req.RequestContext.Identity.SourceIP)
	if err := a.record(ctx, req, endpoint.AnonymousIdentity(), problem.Unauthorized); err != nil {
		log.Error("audit write failed", "error", err)
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
}

func (a *Authorizer) deny(ctx context.Context, log *slog.Logger, req events.APIGatewayCustomAuthorizerRequestTypeRequest, p auth.Principal, code problem.Code, reason string) (events.APIGatewayCustomAuthorizerResponse, error) {
	log.Info(resources.LogRequestDenied, "reason", reason, "principal", p.ID, "code", code)
	if err := a.record(ctx, req, endpoint.IdentityOf(p), code); err != nil {
		log.Error("audit write failed", "error", err)
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	principal := p.ID
	if principal == "" {
		principal = "anonymous"
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID:    principal,
		PolicyDocument: policy("Deny", req.MethodArn),
		// The gateway's ACCESS_DENIED response renders this code and title in its problem+json body.
		Context: map[string]any{auth.CtxCode: string(code), auth.CtxTitle: problem.New(code, "").Title()},
	}, nil
}

func (a *Authorizer) record(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest, who audit.UserIdentity, code problem.Code) error {
	now := a.Clock.Now
	name := "Authorize"
	if r, ok := routes.Lookup(req.HTTPMethod, req.Resource); ok {
		name = r.Operation
	}
	return a.Audit.Put(ctx, audit.Record{
		EventVersion:       audit.EventVersion,
		EventID:            audit.NewEventID(),
		EventTime:          audit.FormatTime(now()),
		EventSource:        "authorizer.vaultbill",
		EventName:          name,
		EventType:          audit.TypeAPICall,
		ReadOnly:           req.HTTPMethod == "GET",
		UserIdentity:       who,
		SourceIPAddress:    req.RequestContext.Identity.SourceIP,
		UserAgent:          headerValue(req.Headers, "User-Agent"),
		RequestID:          req.RequestContext.RequestID,
		RequestParameters:  endpoint.RequestParameters(req.PathParameters, req.QueryStringParameters),
		ErrorCode:          string(code),
		ErrorMessage:       problem.New(code, "").Title(),
		RecipientAccountID: a.Account,
		AWSRegion:          a.Region,
	}.Redacted()) // the header, path and query values are the caller's, and may hold a card number
}

func headerValue(headers map[string]string, name string) string {
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// bearer extracts the token from the Authorization header (any case, "Bearer" scheme only).
func bearer(headers map[string]string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(headerValue(headers, "Authorization")), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// policy allows or denies every method of the API stage. Results are cached per token, so an Allow
// must cover all routes; per-route permissions are enforced by the handlers from the role table.
func policy(effect, methodARN string) events.APIGatewayCustomAuthorizerPolicy {
	return events.APIGatewayCustomAuthorizerPolicy{
		Version: "2012-10-17",
		Statement: []events.IAMPolicyStatement{{
			Action:   []string{"execute-api:Invoke"},
			Effect:   effect,
			Resource: []string{stageWildcard(methodARN)},
		}},
	}
}

// stageWildcard turns arn:aws:execute-api:region:acct:api/stage/METHOD/path into .../stage/*/*.
func stageWildcard(methodARN string) string {
	parts := strings.SplitN(methodARN, "/", 3)
	if len(parts) < 2 {
		return methodARN
	}
	return parts[0] + "/" + parts[1] + "/*/*"
}
