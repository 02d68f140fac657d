package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/problem"
)

// scriptedDB answers TransactWriteItems with the scripted errors in turn, then nil.
type scriptedDB struct {
	errs  []error
	calls int
}

func (s *scriptedDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errors.New("unexpected UpdateItem")
}

func (s *scriptedDB) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	s.calls++
	if len(s.errs) == 0 {
		return &dynamodb.TransactWriteItemsOutput{}, nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return nil, err
}

func cancelled(codes ...string) error {
	tce := &types.TransactionCanceledException{Message: aws.String("cancelled")}
	for _, c := range codes {
		tce.CancellationReasons = append(tce.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
	}
	return tce
}

// TestConcurrentAttemptsAreRetriedNotRefused: a conflict with a concurrent attempt on the same counter
// is tried again (a bounded number of times); a refusal by either counter names it; anything else is
// a 503.
func TestConcurrentAttemptsAreRetriedNotRefused(t *testing.T) {
	const cus = "cus_abcdefghijklmnopqrstuvwxyz"
	tests := []struct {
		name      string
		errs      []error
		wantCode  problem.Code
		wantWhy   string
		wantCalls int
	}{
		{"counted", nil, "", "", 1},
		{"one conflict", []error{cancelled("None", "TransactionConflict")}, "", "", 2},
		{"conflicts throughout", []error{cancelled("TransactionConflict"), cancelled("TransactionConflict"), cancelled("TransactionConflict")},
			problem.ServiceUnavailable, "", maxTries},
		{"principal over the limit", []error{cancelled("ConditionalCheckFailed", "None")}, problem.RateLimited, ReasonPrincipal, 1},
		{"customer over the limit", []error{cancelled("None", "ConditionalCheckFailed")}, problem.RateLimited, ReasonCustomer, 1},
		{"a conflict and a refusal", []error{cancelled("TransactionConflict", "ConditionalCheckFailed")}, problem.RateLimited, ReasonCustomer, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &scriptedDB{errs: tt.errs}
			l := &Limiter{DB: db, Table: "billing", Config: Defaults, Now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
			err := l.Attempt(context.Background(), "p", cus)
			if problem.CodeOf(err) != tt.wantCode || db.calls != tt.wantCalls {
				t.Fatalf("err %v after %d calls; want code %q after %d", err, db.calls, tt.wantCode, tt.wantCalls)
			}
			if tt.wantWhy != "" && problem.From(err).Reason != tt.wantWhy {
				t.Errorf("reason %q, want %q", problem.From(err).Reason, tt.wantWhy)
			}
		})
	}
}
