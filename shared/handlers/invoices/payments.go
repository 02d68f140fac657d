package invoices

import (
	"context"
	"net/http"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// resPayment is the audit resource type of a payment.
const resPayment = "vaultbill::payment"

// Payments are read here, beside the invoices they pay, rather than in the payments function: reading
// one needs the billing table only, and the payments function is the one that may decrypt cards.

func (h *Handlers) getPayment(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	p, err := h.Store.ReadPayment(ctx, c.PathParam("id"))
	if err != nil {
		return nil, translate(err)
	}
	if !c.Principal.CanAccess(auth.ReadPayments, p.CustomerID) {
		return nil, problem.New(problem.NotFound, "No such payment.")
	}
	c.Touch(resPayment, p.ID)
	return &endpoint.Result{Status: http.StatusOK, Body: p}, nil
}

func (h *Handlers) listPayments(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	own := ""
	if c.Principal.OwnOnly(auth.ReadPayments) {
		own = c.Principal.CustomerID
	}
	f, page, err := billingdb.ParseOwnerList(c.Query, own, billing.PaymentPrefix)
	if err != nil {
		return nil, err
	}
	list, err := h.Store.ListPayments(ctx, f, page)
	if err != nil {
		return nil, translate(err)
	}
	return &endpoint.Result{Status: http.StatusOK, Body: list}, nil
}
