package authorizer_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/sessions"
	"github.com/vaultbill/vaultbill/shared/handlers/authorizer"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	authorizerwiring "github.com/vaultbill/vaultbill/shared/wiring/authorizer"
)

func authorizeRequest(token string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type: "REQUEST", MethodArn: "arn:aws:execute-api:us-east-1:000000000000:api1/live/GET/v1/me",
		Resource: "/v1/me", Path: "/v1/me", HTTPMethod: "GET", Headers: map[string]string{"Authorization": "Bearer " + token},
	}
}

// countedAuthorizer is the stack's authorizer built over an SDK configuration that counts calls.
func countedAuthorizer(tb testing.TB, s *devstack.Stack) (*authorizer.Authorizer, *stacktest.Calls) {
	tb.Helper()
	cfg, calls := stacktest.CountCalls(s.Env.AWS)
	a, err := authorizerwiring.New(wiring.Env{Config: s.Env.Config, AWS: cfg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	return a, calls
}

// TestRevocationCheckOnTheEmulator: the epoch check costs one DynamoDB GetItem per invocation and
// nothing else; once the user's epoch passes the token's iat, the same token is 401.
func TestRevocationCheckOnTheEmulator(t *testing.T) {
	s := stacktest.New(t)
	a, calls := countedAuthorizer(t, s)
	tok := stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "rev-ruth"})
	ctx := context.Background()
	if resp, err := a.Handle(ctx, authorizeRequest(tok)); err != nil || resp.PolicyDocument.Statement[0].Effect != "Allow" {
		t.Fatalf("fresh token: %+v %v", resp, err)
	}
	if got := calls.Take(); len(got) != 1 || got["DynamoDB GetItem"] != 1 {
		t.Errorf("AWS calls of one allowed invocation: %v; want one DynamoDB GetItem", got)
	}
	db := dynamodb.NewFromConfig(s.Env.AWS)
	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		sessions.RevokeItem(s.Env.Config.BillingTable, "rev-ruth", time.Now()),
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Handle(ctx, authorizeRequest(tok)); !errors.Is(err, authorizer.ErrUnauthorized) {
		t.Fatalf("revoked token: %v; want Unauthorized", err)
	}
}

// BenchmarkAuthorizerOnTheEmulator is one authorizer invocation with its epoch GetItem against the
// emulator (moto's latency, not DynamoDB's: the call count is the figure that carries over).
func BenchmarkAuthorizerOnTheEmulator(b *testing.B) {
	s := stacktest.New(b)
	a, calls := countedAuthorizer(b, s)
	tok := stacktest.Token(b, s, devstack.TokenSpec{Role: "billing", Subject: "bench-bea"})
	calls.Reset()
	for b.Loop() {
		if _, err := a.Handle(context.Background(), authorizeRequest(tok)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(calls.Get("DynamoDB GetItem"))/float64(b.N), "GetItem/op")
}
