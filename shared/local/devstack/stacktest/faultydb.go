package stacktest

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	api "github.com/vaultbill/vaultbill/shared/api/endpoint"
)

// FaultyDB is a function's DynamoDB client with injected faults: while the predicate set by FailWhen
// says so, a TransactWriteItems call fails as a DynamoDB outage would, before anything is written.
// Tests use it to crash a request between a processor's answer and the commit that records it.
type FaultyDB struct {
	api.DB
	mu     sync.Mutex
	fail   func(in *dynamodb.TransactWriteItemsInput) bool
	Failed atomic.Int64
}

// ErrInjected is the fault a FaultyDB returns.
var ErrInjected = &types.InternalServerError{Message: aws.String("injected DynamoDB fault")}

// TransactWriteItems fails when the predicate matches, and otherwise passes the call on.
func (f *FaultyDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.mu.Lock()
	fail := f.fail != nil && f.fail(in)
	f.mu.Unlock()
	if fail {
		f.Failed.Add(1)
		return nil, ErrInjected
	}
	return f.DB.TransactWriteItems(ctx, in, opts...)
}

// FailWhen installs a fault predicate (nil: no faults).
func (f *FaultyDB) FailWhen(p func(in *dynamodb.TransactWriteItemsInput) bool) {
	f.mu.Lock()
	f.fail = p
	f.mu.Unlock()
}

// Problem is the part of a problem+json body the tests read.
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	Errors []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

// Decode parses a response body as T or fails the test.
func Decode[T any](t testing.TB, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body is not the expected JSON: %v: %s", err, body)
	}
	return v
}
