// Package me serves GET /v1/me: the caller's own identity as the API sees it, so users can check a
// token end to end.
package me

import (
	"context"
	"net/http"

	"github.com/vaultbill/vaultbill/shared/api/endpoint"
)

// Response is the body of GET /v1/me.
type Response struct {
	Object     string `json:"object"`
	Principal  string `json:"principal"`
	Username   string `json:"username,omitempty"`
	Role       string `json:"role"`
	CustomerID string `json:"customer_id,omitempty"`
	MFA        bool   `json:"mfa"`
}

// Routes adds the route to svc.
func Routes(svc *endpoint.Service) {
	svc.Handle("GetMe", func(_ context.Context, c *endpoint.Call) (*endpoint.Result, error) {
		p := c.Principal
		return &endpoint.Result{Status: http.StatusOK, Body: Response{
			Object: "principal", Principal: p.ID, Username: p.Username, Role: string(p.Role),
			CustomerID: p.CustomerID, MFA: p.MFA,
		}}, nil
	})
}
