package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// scriptedDB answers UpdateItem with the scripted errors in turn, then nil, and keeps what it was asked.
type scriptedDB struct {
	errs  []error
	calls []*dynamodb.UpdateItemInput
	// attempts is each call's RetryMaxAttempts as its options set it (0: the client's default).
	attempts []int
}

func (s *scriptedDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	s.calls = append(s.calls, in)
	var o dynamodb.Options
	for _, f := range opts {
		f(&o)
	}
	s.attempts = append(s.attempts, o.RetryMaxAttempts)
	if len(s.errs) == 0 {
		return &dynamodb.UpdateItemOutput{}, nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return nil, err
}

// TestRefusalNamesItsCounterAndCountsAgainstNeither: the principal's counter is tried first, then the
// customer's; a refusal by either names it, and a refusal or fault of the customer's gives the
// principal's count back (once, never retried), so a refused attempt costs the caller nothing; a fault is
// a 503.
func TestRefusalNamesItsCounterAndCountsAgainstNeither(t *testing.T) {
	const cus = "cus_abcdefghijklmnopqrstuvwxyz"
	full := &types.ConditionalCheckFailedException{Message: aws.String("over the limit")}
	down := errors.New("connection reset")
	tests := []struct {
		name, customer string
		errs           []error
		wantCode       problem.Code
		wantWhy        string
		// wantKeys are the counters updated, in order; "-p" is the principal's given back.
		wantKeys []string
	}{
		{"counted", cus, nil, "", "", []string{"p", "c"}},
		{"no customer: the principal alone", "", nil, "", "", []string{"p"}},
		{"principal over the limit", cus, []error{full}, problem.RateLimited, ReasonPrincipal, []string{"p"}},
		{"customer over the limit", cus, []error{nil, full}, problem.RateLimited, ReasonCustomer, []string{"p", "c", "-p"}},
		{"customer over the limit, give-back fails", cus, []error{nil, full, down}, problem.RateLimited, ReasonCustomer, []string{"p", "c", "-p"}},
		{"principal counter down", cus, []error{down}, problem.ServiceUnavailable, "", []string{"p"}},
		{"customer counter down", cus, []error{nil, down}, problem.ServiceUnavailable, "", []string{"p", "c", "-p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &scriptedDB{errs: tt.errs}
			l := &Limiter{DB: db, Table: "billing", Config: Defaults, Clock: func() time.Time { return time.Unix(1_800_000_000, 0) }}
			err := l.Attempt(context.Background(), "p", tt.customer)
			if problem.CodeOf(err) != tt.wantCode {
				t.Fatalf("err %v, want code %q", err, tt.wantCode)
			}
			if tt.wantWhy != "" && problem.From(err).Reason != tt.wantWhy {
				t.Errorf("reason %q, want %q", problem.From(err).Reason, tt.wantWhy)
			}
			var keys []string
			for _, in := range db.calls {
				pk := in.Key["pk"].(*types.AttributeValueMemberS).Value
				k := map[string]string{principalPrefix + "p": "p", customerPrefix + cus: "c"}[pk]
				if v, ok := in.ExpressionAttributeValues[":minus"].(*types.AttributeValueMemberN); ok && v.Value == "-1" {
					k = "-" + k
					if db.attempts[len(keys)] != 1 {
						// A retried give-back after a lost answer takes back two counts for one attempt.
						k += " (retried)"
					}
				}
				keys = append(keys, k)
			}
			if len(keys) != len(tt.wantKeys) {
				t.Fatalf("updates %v, want %v", keys, tt.wantKeys)
			}
			for i := range keys {
				if keys[i] != tt.wantKeys[i] {
					t.Fatalf("updates %v, want %v", keys, tt.wantKeys)
				}
			}
		})
	}
}
