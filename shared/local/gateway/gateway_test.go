package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

func allow(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	switch req.Headers["Authorization"] {
	case "Bearer good":
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID:    "u1",
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Statement: []events.IAMPolicyStatement{{Effect: "Allow"}}},
			Context:        map[string]any{"role": "billing"},
		}, nil
	case "Bearer nomfa":
		return events.APIGatewayCustomAuthorizerResponse{
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Statement: []events.IAMPolicyStatement{{Effect: "Deny"}}},
			Context:        map[string]any{"code": "mfa_required"},
		}, nil
	case "Bearer broken":
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("dynamodb down")
	}
	return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
}

func TestProxyEventShape(t *testing.T) {
	var got events.APIGatewayProxyRequest
	g := &Gateway{Authorizer: allow, Account: "000000000000", Region: "us-east-1", Log: slog.New(slog.DiscardHandler),
		Functions: map[string]Function{"invoices": func(_ context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			got = ev
			return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":true}`}, nil
		}}}
	srv := httptest.NewServer(g)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/v1/invoices/in_42?status=open&status=paid&customer_id=cus_1", nil)
	req.Header.Set("Authorization", "Bearer good")
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	req.Header.Set("User-Agent", "vaultbill-test/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Fatalf("status %d, request id %q", resp.StatusCode, resp.Header.Get("X-Amzn-RequestId"))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"resource", got.Resource, "/v1/invoices/{id}"},
		{"path", got.Path, "/v1/invoices/in_42"},
		{"path params", got.PathParameters, map[string]string{"id": "in_42"}},
		{"query (last value)", got.QueryStringParameters["status"], "paid"},
		{"multi-value query", got.MultiValueQueryStringParameters["status"], []string{"open", "paid"}},
		{"multi-value header", got.MultiValueHeaders["X-Multi"], []string{"a", "b"}},
		{"user agent", got.RequestContext.Identity.UserAgent, "vaultbill-test/1.0"},
		{"source ip", got.RequestContext.Identity.SourceIP, "127.0.0.1"},
		{"request id", got.RequestContext.RequestID, resp.Header.Get("X-Amzn-RequestId")},
		{"authorizer context", got.RequestContext.Authorizer, map[string]any{"principalId": "u1", "role": "billing"}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestGatewayResponses(t *testing.T) {
	g := &Gateway{Authorizer: allow, Log: slog.New(slog.DiscardHandler), Functions: map[string]Function{}}
	srv := httptest.NewServer(g)
	defer srv.Close()
	tests := []struct {
		method, path, token string
		wantStatus          int
		wantBody            string
	}{
		{"GET", "/health", "", 200, `"ok"`},
		{"GET", "/v1/me", "", 401, `"message":"Unauthorized"`},
		{"GET", "/v1/me", "bad", 401, `"code":"unauthorized"`},
		{"GET", "/v1/me", "nomfa", 403, `"code":"mfa_required"`},
		{"GET", "/v1/me", "broken", 500, `Internal server error`},
		{"GET", "/v1/nowhere", "good", 403, `Missing Authentication Token`},
		{"GET", "/v1/me", "good", 501, `not part of this stack`},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus || !strings.Contains(string(b), tt.wantBody) {
			t.Errorf("%s %s (%s): %d %s; want %d containing %s", tt.method, tt.path, tt.token, resp.StatusCode, b, tt.wantStatus, tt.wantBody)
		}
		if tt.wantStatus == 403 && strings.Contains(tt.wantBody, "code") && !json.Valid(b) {
			t.Errorf("deny body is not JSON: %s", b)
		}
	}
}
