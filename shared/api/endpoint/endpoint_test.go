package endpoint_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/idempotency"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/local/provision"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

type fixture struct {
	db      *dynamodb.Client
	names   resources.Names
	svc     *endpoint.Service
	calls   atomic.Int32
	release chan struct{} // when set, the handler waits on it
	entered chan struct{}
	fail    error
}

// newFixture provisions fresh tables and a service whose CreateCustomer handler writes one item.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg, err := devstack.AWSConfig(context.Background(), stacktest.Endpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	names := resources.Names{Prefix: stacktest.UniquePrefix()}
	if err := provision.New(cfg, names).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	f := &fixture{db: db, names: names}
	f.svc = &endpoint.Service{
		Source: "test.vaultbill", DB: db,
		Audit:       &audit.Store{DB: db, Table: names.Table(resources.Audit.ID)},
		Idempotency: &idempotency.Store{DB: db, Table: names.Table(resources.Billing.ID)},
		Log:         slog.New(slog.DiscardHandler),
	}
	f.svc.Handle("CreateCustomer", func(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
		n := f.calls.Add(1)
		if f.entered != nil {
			f.entered <- struct{}{}
			<-f.release
		}
		if f.fail != nil {
			return nil, f.fail
		}
		var in struct {
			Name string `json:"name"`
		}
		if err := c.Decode(&in); err != nil {
			return nil, err
		}
		id := "cus_test" + string(rune('a'+n))
		c.Touch("customer", id)
		return c.Commit(ctx, http.StatusCreated, map[string]any{"id": id, "object": "customer", "name": in.Name},
			types.TransactWriteItem{Put: &types.Put{
				TableName: aws.String(names.Table(resources.Billing.ID)),
				Item: map[string]types.AttributeValue{
					resources.PK: &types.AttributeValueMemberS{Value: "CUS#" + id},
					resources.SK: &types.AttributeValueMemberS{Value: "CUS"},
				},
			}})
	})
	f.svc.Handle("GetMe", func(context.Context, *endpoint.Call) (*endpoint.Result, error) {
		return &endpoint.Result{Status: 200, Body: map[string]string{"object": "principal"}}, nil
	})
	return f
}

func post(principal, key, body string) events.APIGatewayProxyRequest {
	p := auth.Principal{ID: principal, Role: auth.Billing, MFA: true}
	return events.APIGatewayProxyRequest{
		Resource: "/v1/customers", Path: "/v1/customers", HTTPMethod: "POST", Body: body,
		Headers: map[string]string{"Idempotency-Key": key},
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: "req-" + key + "-" + principal, Authorizer: p.Context(),
		},
	}
}

func (f *fixture) count(t *testing.T, table string) int {
	t.Helper()
	out, err := f.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.names.Table(table))})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

func (f *fixture) customers(t *testing.T) int {
	t.Helper()
	out, err := f.db.Scan(context.Background(), &dynamodb.ScanInput{
		TableName:        aws.String(f.names.Table(resources.Billing.ID)),
		FilterExpression: aws.String("begins_with(pk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": &types.AttributeValueMemberS{Value: "CUS#"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

func TestIdempotentReplay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, _ := f.svc.Serve(ctx, post("ann", "k1", `{"name":"Acme"}`))
	again, _ := f.svc.Serve(ctx, post("ann", "k1", `{"name":"Acme"}`))
	if first.StatusCode != 201 || again.StatusCode != 201 || again.Body != first.Body {
		t.Fatalf("first %d %s, replay %d %s", first.StatusCode, first.Body, again.StatusCode, again.Body)
	}
	if again.Headers["Idempotent-Replayed"] != "true" || first.Headers["Idempotent-Replayed"] != "" {
		t.Errorf("Idempotent-Replayed header: first %q, replay %q", first.Headers["Idempotent-Replayed"], again.Headers["Idempotent-Replayed"])
	}
	if f.calls.Load() != 1 || f.customers(t) != 1 {
		t.Errorf("handler ran %d times, %d customers stored; want 1 and 1", f.calls.Load(), f.customers(t))
	}
	other, _ := f.svc.Serve(ctx, post("ann", "k1", `{"name":"Other"}`))
	if other.StatusCode != 422 || !strings.Contains(other.Body, `"idempotency_key_reused"`) {
		t.Errorf("same key, other body: %d %s", other.StatusCode, other.Body)
	}
	// Keys are scoped per principal: bob's k1 is a different key.
	bob, _ := f.svc.Serve(ctx, post("bob", "k1", `{"name":"Acme"}`))
	if bob.StatusCode != 201 || bob.Headers["Idempotent-Replayed"] != "" || f.customers(t) != 2 {
		t.Errorf("another principal's key: %d, replayed=%q", bob.StatusCode, bob.Headers["Idempotent-Replayed"])
	}
	// Every request, replays and refusals included, left one audit record.
	if got := f.count(t, resources.Audit.ID); got != 4 {
		t.Errorf("%d audit records for 4 requests", got)
	}
}

func TestIdempotencyKeyInFlight(t *testing.T) {
	f := newFixture(t)
	f.entered, f.release = make(chan struct{}), make(chan struct{})
	ctx := context.Background()
	done := make(chan events.APIGatewayProxyResponse)
	go func() {
		r, _ := f.svc.Serve(ctx, post("ann", "k2", `{"name":"Acme"}`))
		done <- r
	}()
	<-f.entered // the first request holds the key
	f.entered = nil
	second, _ := f.svc.Serve(ctx, post("ann", "k2", `{"name":"Acme"}`))
	close(f.release)
	first := <-done
	if second.StatusCode != 409 || !strings.Contains(second.Body, `"idempotency_key_in_use"`) {
		t.Errorf("concurrent request with the key in flight: %d %s", second.StatusCode, second.Body)
	}
	if first.StatusCode != 201 || f.customers(t) != 1 {
		t.Errorf("first request: %d, customers %d", first.StatusCode, f.customers(t))
	}
}

// TestFaultReleasesKey: a 5xx is not a settled outcome; the client's retry runs the request again.
func TestFaultReleasesKey(t *testing.T) {
	f := newFixture(t)
	f.fail = problem.Wrap(problem.ServiceUnavailable, errors.New("kms throttled"), "Try again.")
	ctx := context.Background()
	r1, _ := f.svc.Serve(ctx, post("ann", "k3", `{"name":"Acme"}`))
	f.fail = nil
	r2, _ := f.svc.Serve(ctx, post("ann", "k3", `{"name":"Acme"}`))
	if r1.StatusCode != 503 || r2.StatusCode != 201 || r2.Headers["Idempotent-Replayed"] != "" {
		t.Fatalf("fault then retry: %d then %d (replayed %q)", r1.StatusCode, r2.StatusCode, r2.Headers["Idempotent-Replayed"])
	}
	if strings.Contains(r1.Body, "kms throttled") {
		t.Errorf("fault detail leaked: %s", r1.Body)
	}
}

// TestAuditFailureFailsClosed: if the audit record cannot be written, the change is not stored and the
// client gets a 500; a read is refused rather than answered without its record.
func TestAuditFailureFailsClosed(t *testing.T) {
	f := newFixture(t)
	f.svc.Audit.Table = "no-such-audit-table"
	ctx := context.Background()
	resp, _ := f.svc.Serve(ctx, post("ann", "k4", `{"name":"Acme"}`))
	if resp.StatusCode != 500 || f.customers(t) != 0 {
		t.Errorf("change with a failing audit write: %d, %d customers stored", resp.StatusCode, f.customers(t))
	}
	get := events.APIGatewayProxyRequest{Resource: "/v1/me", Path: "/v1/me", HTTPMethod: "GET",
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r", Authorizer: auth.Principal{ID: "ann", Role: auth.Billing, MFA: true}.Context()}}
	resp, _ = f.svc.Serve(ctx, get)
	if resp.StatusCode != 500 || strings.Contains(resp.Body, "principal") {
		t.Errorf("read with a failing audit write: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestPermissionAndMFAEnforced(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	req := post("ann", "", `{"name":"Acme"}`)
	req.RequestContext.Authorizer = auth.Principal{ID: "ann", Role: auth.Auditor, MFA: true}.Context()
	if resp, _ := f.svc.Serve(ctx, req); resp.StatusCode != 403 || !strings.Contains(resp.Body, `"forbidden"`) {
		t.Errorf("auditor creating a customer: %d %s", resp.StatusCode, resp.Body)
	}
	req.RequestContext.Authorizer = auth.Principal{ID: "ann", Role: auth.Billing, MFA: false}.Context()
	if resp, _ := f.svc.Serve(ctx, req); resp.StatusCode != 403 || !strings.Contains(resp.Body, `"mfa_required"`) {
		t.Errorf("no MFA: %d %s", resp.StatusCode, resp.Body)
	}
	if f.calls.Load() != 0 || f.customers(t) != 0 {
		t.Error("handler ran for a refused request")
	}
}
