// Package problem defines Vaultbill's one error type: a machine code, a message that is safe to show a
// client, and the cause, which is logged but never sent.
package problem

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is the machine-readable error code of DESIGN §5; clients branch on it.
type Code string

// The error codes of the API contract.
const (
	Unauthorized         Code = "unauthorized"
	MFARequired          Code = "mfa_required"
	Forbidden            Code = "forbidden"
	NotFound             Code = "not_found"
	ValidationFailed     Code = "validation_failed"
	InvoiceNotDraft      Code = "invoice_not_draft"
	InvalidState         Code = "invalid_state"
	IdempotencyKeyReused Code = "idempotency_key_reused"
	IdempotencyKeyInUse  Code = "idempotency_key_in_use"
	CardDeclined         Code = "card_declined"
	RefundFailed         Code = "refund_failed"
	PayloadTooLarge      Code = "payload_too_large"
	// RateLimited refuses a request over a limit; the response says when to retry (Retry-After).
	RateLimited Code = "rate_limited"
	// ServiceUnavailable is a dependency fault (KMS, DynamoDB throttling): nothing was stored, retry later.
	ServiceUnavailable Code = "service_unavailable"
	Internal           Code = "internal"
	// CustomerErased refuses a change, an invoice or a token for an erased customer.
	CustomerErased Code = "customer_erased"
)

// statuses is the one place codes map to HTTP statuses.
var statuses = map[Code]int{
	Unauthorized:         http.StatusUnauthorized,
	MFARequired:          http.StatusForbidden,
	Forbidden:            http.StatusForbidden,
	NotFound:             http.StatusNotFound,
	ValidationFailed:     http.StatusUnprocessableEntity,
	InvoiceNotDraft:      http.StatusConflict,
	InvalidState:         http.StatusConflict,
	IdempotencyKeyReused: http.StatusUnprocessableEntity,
	IdempotencyKeyInUse:  http.StatusConflict,
	CardDeclined:         http.StatusPaymentRequired,
	RefundFailed:         http.StatusPaymentRequired,
	PayloadTooLarge:      http.StatusRequestEntityTooLarge,
	RateLimited:          http.StatusTooManyRequests,
	ServiceUnavailable:   http.StatusServiceUnavailable,
	Internal:             http.StatusInternalServerError,
	CustomerErased:       http.StatusConflict,
}

// titles are the short human summaries sent as problem+json "title".
var titles = map[Code]string{
	Unauthorized:         "Unauthorized",
	MFARequired:          "Multi-factor authentication required",
	Forbidden:            "Forbidden",
	NotFound:             "Not found",
	ValidationFailed:     "Validation failed",
	InvoiceNotDraft:      "Invoice is not a draft",
	InvalidState:         "Invalid state transition",
	IdempotencyKeyReused: "Idempotency key reused with a different request",
	IdempotencyKeyInUse:  "Idempotency key in use",
	CardDeclined:         "Card declined",
	RefundFailed:         "Refund failed",
	PayloadTooLarge:      "Payload too large",
	RateLimited:          "Too many requests",
	ServiceUnavailable:   "Service unavailable",
	Internal:             "Internal error",
	CustomerErased:       "Customer erased",
}

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the error every layer returns when the client must see a specific code.
// Detail and Fields are sent to the client, so they must never hold card data, keys or internals;
// Err is the cause, logged (redacted) and never sent.
type Error struct {
	Code   Code
	Detail string
	Fields []FieldError
	// Malformed marks a validation failure of the request's syntax (bad JSON, unknown field), which is a
	// 400 rather than the 422 of a well-formed request with bad values.
	Malformed bool
	// Reason is a machine sub-code, such as a decline reason, sent as "reason".
	Reason string
	// RetryAfter, when positive, is sent as the Retry-After header: how long until a retry can succeed.
	RetryAfter time.Duration
	Err        error
}

// New returns an error with a code and a client-safe detail.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with a code and client-safe detail that keeps err as its logged cause.
func Wrap(code Code, err error, detail string) *Error {
	return &Error{Code: code, Detail: detail, Err: err}
}

// Invalid returns a 422 validation error listing the invalid fields.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: ValidationFailed, Detail: "The request has invalid fields.", Fields: fields}
}

// Malformed returns a 400 validation error for a request that cannot be parsed.
func Malformed(format string, args ...any) *Error {
	return &Error{Code: ValidationFailed, Detail: fmt.Sprintf(format, args...), Malformed: true}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Detail, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Detail)
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status of the error.
func (e *Error) Status() int {
	if e.Code == ValidationFailed && e.Malformed {
		return http.StatusBadRequest
	}
	return StatusOf(e.Code)
}

// Title is the short human summary of the error's code.
func (e *Error) Title() string { return titles[e.Code] }

// Seconds is d as the whole seconds of a Retry-After header, rounded up and at least 1.
func Seconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}

// StatusOf maps a code to its HTTP status; unknown codes are internal errors.
func StatusOf(c Code) int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// From returns err as an *Error. Anything that is not one is an internal error whose cause is kept for
// the log, so no internal text ever reaches a client.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Detail: "An internal error occurred.", Err: err}
}

// CodeOf returns the code of err, or "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	return From(err).Code
}
