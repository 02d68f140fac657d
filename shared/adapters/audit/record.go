// Package audit owns Vaultbill's audit records: their CloudTrail shape, and the outbox table they are
// written to in the same transaction as the change they describe.
package audit

import (
	"time"

	"github.com/vaultbill/vaultbill/shared/domain/ids"
)

// EventVersion is the CloudTrail record format version the records follow.
const EventVersion = "1.09"

// Event types.
const (
	// TypeAPICall is a request to the HTTP API, allowed or denied.
	TypeAPICall = "AwsApiCall"
	// TypeServiceEvent is work the service did on its own (detokenization, backups, digests).
	TypeServiceEvent = "AwsServiceEvent"
)

// Record is one audit event in CloudTrail's record shape. It holds identifiers and outcomes only: no
// card number, cvc, key, token text or personal data may be put into it.
type Record struct {
	EventVersion       string            `json:"eventVersion"`
	EventID            string            `json:"eventID"`
	EventTime          string            `json:"eventTime"`
	EventSource        string            `json:"eventSource"`
	EventName          string            `json:"eventName"`
	EventType          string            `json:"eventType"`
	ReadOnly           bool              `json:"readOnly"`
	UserIdentity       UserIdentity      `json:"userIdentity"`
	SourceIPAddress    string            `json:"sourceIPAddress"`
	UserAgent          string            `json:"userAgent"`
	RequestID          string            `json:"requestID"`
	RequestParameters  map[string]string `json:"requestParameters"`
	ResponseElements   map[string]string `json:"responseElements"`
	ErrorCode          string            `json:"errorCode,omitempty"`
	ErrorMessage       string            `json:"errorMessage,omitempty"`
	Resources          []Resource        `json:"resources,omitempty"`
	RecipientAccountID string            `json:"recipientAccountId"`
	AWSRegion          string            `json:"awsRegion"`
}

// UserIdentity says who made the request.
type UserIdentity struct {
	// Type is "CognitoUser" for an authenticated caller, "Unknown" when the token was rejected.
	Type           string         `json:"type"`
	PrincipalID    string         `json:"principalId,omitempty"`
	UserName       string         `json:"userName,omitempty"`
	Role           string         `json:"role,omitempty"`
	SessionContext SessionContext `json:"sessionContext"`
}

// SessionContext carries the session attributes, as in CloudTrail.
type SessionContext struct {
	Attributes SessionAttributes `json:"attributes"`
}

// SessionAttributes records whether the caller authenticated with MFA ("true"/"false", as CloudTrail)
// and how that was proven ("amr", "pool" or "none"; absent for a rejected token).
type SessionAttributes struct {
	MFAAuthenticated string `json:"mfaAuthenticated"`
	MFAProof         string `json:"mfaProof,omitempty"`
}

// Resource is an object the event touched.
type Resource struct {
	ARN  string `json:"ARN,omitempty"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

// NewEventID returns a random event ID (128 bits, hex); it is never derived from data.
func NewEventID() string { return ids.New(ids.Event) }

// FormatTime formats t as audit records do: RFC 3339, UTC, whole seconds (as CloudTrail).
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
