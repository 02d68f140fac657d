package datarights

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/erasures"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Eraser is what an erasure needs beyond the billing store.
type Eraser struct {
	// Ledger records each erasure where restores read it (shared/adapters/erasures).
	Ledger interface {
		Record(ctx context.Context, e erasures.Entry) error
	}
	// Keys delete and forget customer keys (*customerkeys.Keys).
	Keys interface {
		DeleteItem(customerID string) types.TransactWriteItem
		Forget(customerID string)
	}
	// DB and VaultTable delete the customer's card tokens.
	DB         erasures.DB
	VaultTable string
}

// erase is POST /v1/customers/{id}/erase: crypto-shredding of a customer's personal data. In order:
// the ledger entry (so an erasure cut short is completed by a retry or the next restore), the card
// tokens (their ciphertexts deleted: the numbers are unrecoverable with any key), then one transaction
// that deletes the customer's key, rewrites the customer without personal data and writes the audit
// record (ids only). Repeating it on an erased customer completes and answers the same.
func (h *Handlers) erase(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	id := c.PathParam("id")
	if !c.Principal.CanAccess(auth.EraseCustomers, id) {
		return nil, problem.New(problem.NotFound, "No such customer.")
	}
	cus, err := h.Store.GetCustomer(ctx, id)
	if err != nil {
		return nil, unavailable(err)
	}
	c.Touch(resCustomer, cus.ID)
	if !cus.Erased {
		if err := h.erasable(ctx, id); err != nil {
			return nil, err
		}
	}
	now := billing.FormatTime(h.Clock.Now())
	entry := erasures.Entry{CustomerID: id, ErasedAt: now, PrincipalID: c.Principal.ID}
	if cus.Erased {
		entry.ErasedAt = *cus.ErasedAt
	}
	if err := h.Erase.Ledger.Record(ctx, entry); err != nil {
		return nil, problem.Wrap(problem.ServiceUnavailable, err, "The erasure could not be recorded; nothing was erased. Retry shortly.")
	}
	if err := erasures.DeleteTokens(ctx, h.Erase.DB, h.Erase.VaultTable, id); err != nil {
		return nil, problem.Wrap(problem.ServiceUnavailable, err, "The customer's cards could not all be deleted; retry to complete the erasure.")
	}
	if cus.Erased {
		return c.Commit(ctx, http.StatusOK, cus, h.Erase.Keys.DeleteItem(id))
	}
	prev := cus.Version
	cus.Erase(now)
	cus.Version++
	item, err := h.Store.ErasedCustomerItem(cus, prev)
	if err != nil {
		return nil, err
	}
	res, err := c.Commit(ctx, http.StatusOK, cus, item, h.Erase.Keys.DeleteItem(id))
	if err != nil {
		if billingdb.Contended(err, 1) {
			return nil, problem.Wrap(problem.ServiceUnavailable, err, "The customer changed during the erasure; retry to complete it.")
		}
		return nil, err
	}
	h.Erase.Keys.Forget(id)
	return res, nil
}

// erasable refuses an erasure while the customer has an open invoice or a payment in progress: the
// money in flight must settle first (409 invalid_state).
func (h *Handlers) erasable(ctx context.Context, id string) error {
	open, err := h.Store.ListInvoices(ctx, billingdb.InvoiceFilter{CustomerID: id, Status: billing.Open}, billingdb.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(open.Data) > 0 {
		return problem.New(problem.InvalidState, "The customer has an open invoice; void it, write it off or let it be paid before erasing the customer.")
	}
	payments, err := all(func(p billingdb.Page) (billingdb.List[*billing.Payment], error) {
		return h.Store.ListPayments(ctx, billingdb.OwnerFilter{CustomerID: id}, p)
	}, func(p *billing.Payment) string { return p.CreatedAt + "#" + p.ID })
	if err != nil {
		return err
	}
	for _, p := range payments {
		if p.Status == billing.PaymentProcessing {
			return problem.New(problem.InvalidState, "A payment of the customer is in progress; retry the erasure once it has settled.")
		}
	}
	return nil
}
