// Package datarights serves a customer's data rights (GDPR articles 15, 17 and 20): the export of
// everything Vaultbill holds about a customer.
//
// It runs as a function of its own (data-rights) rather than in invoices or tokens: the export
// needs the customer's personal data (the customer-data purpose of the data key, Decrypt only) and
// the token metadata in the vault table. Giving invoices the vault, or tokens the customer keys,
// would widen two busy functions for one rare route; this one holds both, never a card data key.
package datarights

import (
	"context"
	"errors"
	"net/http"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
)

// ObjectExport is the "object" of an export.
const ObjectExport = "customer_export"

// Tokens lists a customer's card tokens (metadata only); *vault.Vault satisfies it.
type Tokens interface {
	List(ctx context.Context, customerID string, limit int, after string) (vault.Page, error)
}

// Handlers serves the routes.
type Handlers struct {
	Store  *billingdb.Store
	Tokens Tokens
	// Erase is what erasures need.
	Erase Eraser
	// Now is the clock (replaced in tests).
	Clock clock.Func
}

// Export is the body of GET /v1/customers/{id}/export.
type Export struct {
	Object      string                 `json:"object"`
	GeneratedAt string                 `json:"generated_at"`
	Customer    *billing.Customer      `json:"customer"`
	Invoices    []*billing.Invoice     `json:"invoices"`
	CreditNotes []*billing.CreditNote  `json:"credit_notes"`
	Payments    []*billing.Payment     `json:"payments"`
	Tokens      []tokens.TokenResponse `json:"tokens"`
}

// Routes adds the data rights routes to svc.
func Routes(svc *endpoint.Service, h *Handlers) *Handlers {
	svc.Handle("ExportCustomer", h.export)
	svc.Handle("EraseCustomer", h.erase)
	return h
}

const resCustomer = "vaultbill::customer"

// pageSize is the page each list of an export is read in.
const pageSize = 100

func (h *Handlers) export(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	id := c.PathParam("id")
	if !c.Principal.CanAccess(auth.ExportCustomers, id) {
		return nil, problem.New(problem.NotFound, "No such customer.")
	}
	cus, err := h.Store.GetCustomer(ctx, id)
	if err != nil {
		return nil, unavailable(err)
	}
	c.Touch(resCustomer, cus.ID)
	out := Export{Object: ObjectExport, GeneratedAt: billing.FormatTime(h.Clock.Now()), Customer: cus,
		Invoices: []*billing.Invoice{}, CreditNotes: []*billing.CreditNote{}, Payments: []*billing.Payment{}, Tokens: []tokens.TokenResponse{}}
	if out.Invoices, err = all(func(p billingdb.Page) (billingdb.List[*billing.Invoice], error) {
		return h.Store.ListInvoices(ctx, billingdb.InvoiceFilter{CustomerID: id}, p)
	}, func(i *billing.Invoice) string { return i.CreatedAt + "#" + i.ID }); err != nil {
		return nil, err
	}
	owner := billingdb.OwnerFilter{CustomerID: id}
	if out.CreditNotes, err = all(func(p billingdb.Page) (billingdb.List[*billing.CreditNote], error) {
		return h.Store.ListCreditNotes(ctx, owner, p)
	}, func(n *billing.CreditNote) string { return n.CreatedAt + "#" + n.ID }); err != nil {
		return nil, err
	}
	if out.Payments, err = all(func(p billingdb.Page) (billingdb.List[*billing.Payment], error) {
		return h.Store.ListPayments(ctx, owner, p)
	}, func(p *billing.Payment) string { return p.CreatedAt + "#" + p.ID }); err != nil {
		return nil, err
	}
	for after := ""; ; {
		page, err := h.Tokens.List(ctx, id, pageSize, after)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tokens {
			out.Tokens = append(out.Tokens, tokens.Render(t))
		}
		if !page.HasMore {
			break
		}
		after = page.NextCursor
	}
	return &endpoint.Result{Status: http.StatusOK, Body: out}, nil
}

// all reads every page of a list, newest first.
func all[T any](list func(billingdb.Page) (billingdb.List[T], error), position func(T) string) ([]T, error) {
	out := []T{}
	p := billingdb.Page{Limit: pageSize}
	for {
		l, err := list(p)
		if err != nil {
			return nil, err
		}
		out = append(out, l.Data...)
		if !l.HasMore || len(l.Data) == 0 {
			return out, nil
		}
		p.After = position(l.Data[len(l.Data)-1])
	}
}

// unavailable marks a KMS fault on a customer key: 503, nothing returned.
func unavailable(err error) error {
	var ke *envelope.KMSError
	if errors.As(err, &ke) {
		return problem.Wrap(problem.ServiceUnavailable, err, "Customer data cannot be opened right now. Retry shortly.")
	}
	return err
}
