package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// The refusals API Gateway itself answers, before any function runs: a missing or rejected token (401)
// and an authorizer Deny (403). The deployed REST API's gateway responses are the templates below, and
// the local gateway (shared/local/gateway) serves the bodies they render, so both answer alike.

// UnauthorizedBody is API Gateway's {"message":"Unauthorized"} extended with the problem+json fields,
// as the deployed UNAUTHORIZED gateway response renders it.
func UnauthorizedBody(requestID string) string {
	p := ProblemOf(problem.New(problem.Unauthorized, "A valid bearer token is required."), requestID)
	return marshalWithMessage(p, "Unauthorized")
}

// DeniedBody renders an authorizer Deny as the deployed ACCESS_DENIED gateway response does: the code
// and title come from the authorizer's context (mfa_required, forbidden).
func DeniedBody(ctx map[string]any, requestID string) string {
	code, _ := ctx[auth.CtxCode].(string)
	if code == "" {
		code = string(problem.Forbidden)
	}
	title, _ := ctx[auth.CtxTitle].(string)
	if title == "" {
		title = problem.New(problem.Code(code), "").Title()
	}
	p := Problem{
		Type:      ProblemType + code,
		Title:     title,
		Status:    http.StatusForbidden,
		Detail:    "The request was denied.",
		Code:      problem.Code(code),
		RequestID: requestID,
	}
	return marshalWithMessage(p, "User is not authorized to access this resource")
}

// UnauthorizedTemplate is the body of the deployed UNAUTHORIZED gateway response: the local gateway's 401 body
// with API Gateway's request id variable in place of the request id.
func UnauthorizedTemplate() string { return UnauthorizedBody("$context.requestId") }

// AccessDeniedTemplate is the body of the deployed ACCESS_DENIED gateway response: the local gateway's 403 body
// with API Gateway's variables for the request id and the authorizer's code and title.
func AccessDeniedTemplate() string {
	return DeniedBody(map[string]any{
		auth.CtxCode:  "$context.authorizer." + auth.CtxCode,
		auth.CtxTitle: "$context.authorizer." + auth.CtxTitle,
	}, "$context.requestId")
}

// ProblemContentType is the content type of both gateway responses.
const ProblemContentType = "application/problem+json"

func marshalWithMessage(p Problem, message string) string {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
		Problem
	}{message, p})
	return string(b)
}
