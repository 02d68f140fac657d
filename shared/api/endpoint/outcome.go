package endpoint

import (
	"context"
	"fmt"
)

// OutcomeCipher seals the body of a kept idempotent outcome that holds someone's personal data, under
// that data subject's own key, and opens it for a replay. The invoices function passes the customer
// keys (shared/adapters/customerkeys), so an erased customer's kept responses are shredded with the customer.
type OutcomeCipher interface {
	// SealOutcome returns what is stored for body, sealed for subject (e.g. a customer id).
	SealOutcome(ctx context.Context, subject string, body []byte) (string, error)
	// OpenOutcome returns the body that SealOutcome sealed into stored.
	OpenOutcome(ctx context.Context, stored string) (string, error)
	// IsSealedOutcome reports whether a stored body is one SealOutcome made.
	IsSealedOutcome(stored string) bool
}

// SealOutcomeFor marks this request's response as personal data of subject: its kept idempotent
// outcome is sealed under subject's key instead of stored as it is. A service without an
// OutcomeCipher then refuses to keep it (fail closed).
func (c *Call) SealOutcomeFor(subject string) { c.outcomeSubject = subject }

// storedBody is what the idempotency record keeps of a response body.
func (s *Service) storedBody(ctx context.Context, c *Call, body string) (string, error) {
	if c.outcomeSubject == "" {
		return body, nil
	}
	if s.Outcomes == nil {
		return "", fmt.Errorf("%s: response holds personal data and the service cannot seal it", c.Route.Operation)
	}
	return s.Outcomes.SealOutcome(ctx, c.outcomeSubject, []byte(body))
}

// replayBody is the body a replay returns for a stored one.
func (s *Service) replayBody(ctx context.Context, stored string) (string, error) {
	if s.Outcomes == nil || !s.Outcomes.IsSealedOutcome(stored) {
		return stored, nil
	}
	return s.Outcomes.OpenOutcome(ctx, stored)
}
