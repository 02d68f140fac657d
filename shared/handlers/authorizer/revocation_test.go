package authorizer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"
)

// epochs is a fixed table of session epochs by subject.
type epochs map[string]time.Time

func (e epochs) NotBefore(_ context.Context, sub string) (time.Time, error) { return e[sub], nil }

type failingEpochs struct{}

func (failingEpochs) NotBefore(context.Context, string) (time.Time, error) {
	return time.Time{}, errors.New("dynamodb down")
}

// TestRevokedTokensRefused: a token issued before its user's session epoch is 401 whatever else it
// proves; one issued at or after it is accepted; an unreadable epoch fails closed.
func TestRevokedTokensRefused(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tok := sign(t, key, claims(nil)) // iat = now
	tests := []struct {
		name    string
		epochs  SessionEpochs
		allowed bool
	}{
		{"never revoked", epochs{}, true},
		{"another user revoked", epochs{"user-2": now.Add(time.Hour)}, true},
		{"revoked before the token", epochs{"user-1": now.Add(-time.Second)}, true},
		{"epoch is the token's second", epochs{"user-1": now}, true},
		{"revoked after the token", epochs{"user-1": now.Add(time.Second)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			a := newAuthorizer(t, key, rec)
			a.Sessions = tt.epochs
			resp, err := a.Handle(context.Background(), request(tok))
			if tt.allowed {
				if err != nil || resp.PolicyDocument.Statement[0].Effect != "Allow" {
					t.Fatalf("got %+v, %v; want Allow", resp, err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) || len(rec.recs) != 1 || rec.recs[0].ErrorCode != "unauthorized" {
				t.Fatalf("got %v with %d records; want 401 audited", err, len(rec.recs))
			}
		})
	}
	a := newAuthorizer(t, key, &recorder{})
	a.Sessions = failingEpochs{}
	if _, err := a.Handle(context.Background(), request(tok)); err == nil || errors.Is(err, ErrUnauthorized) {
		t.Fatalf("epoch read failure: %v; want a failure (5xx), not an answer", err)
	}
}

// BenchmarkHandleWithRevocationCheck is the authorizer's per-invocation work with the epoch check
// against an in-memory epoch source: signature verification dominates; the check adds one map read
// here and one DynamoDB GetItem (a network round trip) in AWS.
func BenchmarkHandleWithRevocationCheck(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tok := sign(b, key, claims(nil))
	for _, bc := range []struct {
		name string
		s    SessionEpochs
	}{{"without check", nil}, {"with check", epochs{"user-1": now.Add(-time.Hour)}}} {
		b.Run(bc.name, func(b *testing.B) {
			a := newAuthorizer(b, key, &recorder{})
			a.Sessions = bc.s
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Handle(context.Background(), request(tok)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
