package endpoint_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// tableHasPAN reports whether any item of a fixture table holds a card number in clear.
func (f *fixture) tableHasPAN(t *testing.T, table string) bool {
	t.Helper()
	out, err := f.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.names.Table(table))})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range out.Items {
		if logging.ContainsPAN(strings.Join(attrStrings(item), "\n")) {
			return true
		}
	}
	return false
}

// TestCardNumbersInIDsAndHeadersNeverReachTheAuditRecord: a client that puts a card number in a path
// id, a query filter, an Idempotency-Key or a header must not get it stored in the audit outbox (the
// trail keeps it a year under Object Lock) nor in the billing table; a malformed id is refused before
// the handler runs, and the refusal does not echo it.
func TestCardNumbersInIDsAndHeadersNeverReachTheAuditRecord(t *testing.T) {
	f := newFixture(t)
	ran := 0
	f.svc.Handle("GetToken", func(_ context.Context, c *endpoint.Call) (*endpoint.Result, error) {
		ran++
		c.Touch("token", c.PathParam("id"))
		return nil, problem.New(problem.NotFound, "No such token.")
	})
	ctx := context.Background()
	p := auth.Principal{ID: "ann", Role: auth.Admin, MFA: true}
	for _, pan := range []string{"4242424242424242", "5555 5555 5555 4444", "4242-4242-4242-4242"} {
		get := events.APIGatewayProxyRequest{
			Resource: "/v1/tokens/{id}", Path: "/v1/tokens/" + pan, HTTPMethod: http.MethodGet,
			PathParameters:        map[string]string{"id": pan},
			QueryStringParameters: map[string]string{"customer_id": pan, "x": pan},
			Headers:               map[string]string{"User-Agent": "curl " + pan, "X-Forwarded-For": pan},
			RequestContext: events.APIGatewayProxyRequestContext{
				RequestID: "req-get", Authorizer: p.Context(),
				Identity: events.APIGatewayRequestIdentity{SourceIP: pan, UserAgent: "curl " + pan},
			},
		}
		resp, _ := f.svc.Serve(ctx, get)
		if resp.StatusCode != 404 || strings.Contains(resp.Body, pan[:4]) {
			t.Errorf("GET with a card number as token id: %d %s", resp.StatusCode, resp.Body)
		}
		create := post("ann", pan, `{"name":"Acme"}`)
		create.Headers["User-Agent"] = pan
		create.RequestContext.RequestID = "req-post"
		create.RequestContext.Identity.UserAgent = pan
		resp, _ = f.svc.Serve(ctx, create)
		if resp.StatusCode != 400 || strings.Contains(resp.Body, pan[:4]) {
			t.Errorf("POST with a card number as Idempotency-Key: %d %s", resp.StatusCode, resp.Body)
		}
	}
	if ran != 0 {
		t.Errorf("the handler ran %d times on malformed ids", ran)
	}
	if f.count(t, resources.Audit.ID) != 6 {
		t.Errorf("%d audit records for 6 requests", f.count(t, resources.Audit.ID))
	}
	for _, table := range []string{resources.Audit.ID, resources.Billing.ID} {
		if f.tableHasPAN(t, table) {
			t.Errorf("a card number is stored in the %s table", table)
		}
	}
}

// TestAuditFailureIsNeverReplayed: a refusal whose audit record could not be written is a 500, and the
// client's retry with the same Idempotency-Key runs again and gets its record, instead of replaying a
// stored outcome that never had one.
func TestAuditFailureIsNeverReplayed(t *testing.T) {
	f := newFixture(t)
	f.fail = problem.Invalid(problem.FieldError{Field: "name", Message: "is required"})
	ctx := context.Background()
	table := f.svc.Audit.Table
	f.svc.Audit.Table = "no-such-audit-table"
	first, _ := f.svc.Serve(ctx, post("ann", "k8", `{"name":""}`))
	f.svc.Audit.Table = table
	retry, _ := f.svc.Serve(ctx, post("ann", "k8", `{"name":""}`))
	if first.StatusCode != 500 {
		t.Fatalf("refusal with a failing audit write: %d %s", first.StatusCode, first.Body)
	}
	if retry.StatusCode != 422 || retry.Headers["Idempotent-Replayed"] != "" {
		t.Errorf("retry: %d (replayed %q), want the request run again", retry.StatusCode, retry.Headers["Idempotent-Replayed"])
	}
	if f.calls.Load() != 2 || f.count(t, resources.Audit.ID) != 1 {
		t.Errorf("handler ran %d times, %d audit records; want 2 and 1", f.calls.Load(), f.count(t, resources.Audit.ID))
	}
}

func attrStrings(item map[string]types.AttributeValue) []string {
	var out []string
	for _, v := range item {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out = append(out, v.Value)
		case *types.AttributeValueMemberN:
			out = append(out, v.Value)
		}
	}
	return out
}

// TestNoUnkeyedHashOfACardNumber: the idempotency record keeps a hash of the request body for a day.
// A plain SHA-256 of a body holding a card number is an unkeyed hash of it (PCI DSS 3.5.1.1), so a
// function without a keyed request hash refuses such a body before it claims the key.
func TestNoUnkeyedHashOfACardNumber(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i, body := range []string{`{"name":"4242424242424242"}`, `{"name":"Acme","n":5555555555554444}`} {
		req := post("ann", fmt.Sprintf("k-pan-%d", i), body)
		resp, _ := f.svc.Serve(ctx, req)
		if resp.StatusCode != 400 || logging.ContainsPAN(resp.Body) {
			t.Errorf("%s: %d %s", body, resp.StatusCode, resp.Body)
		}
	}
	if f.calls.Load() != 0 || f.count(t, resources.Billing.ID) != 0 {
		t.Errorf("handler ran %d times, %d billing items (idempotency records) stored; want none", f.calls.Load(), f.count(t, resources.Billing.ID))
	}
}
