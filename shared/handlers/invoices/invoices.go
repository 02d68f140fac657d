// Package invoices serves the customer and invoice routes of the HTTP API: it decodes requests, checks
// each object against the caller's scope, applies the billing domain and commits the changes through
// the endpoint runtime, each with its audit record and idempotent outcome in one transaction.
package invoices

import (
	"context"
	"errors"
	"net/http"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Audit resource types.
const (
	resCustomer = "vaultbill::customer"
	resInvoice  = "vaultbill::invoice"
)

// maxAttempts bounds the retries of a change that lost an optimistic-locking race. Finalizes contend
// on the number counter, so under a burst one request may lose several rounds before it wins.
const maxAttempts = 40

// Handlers serves the routes.
type Handlers struct {
	Store *billingdb.Store
	// Now and NewID are the clock and id source (replaced in tests).
	Clock clock.Func
	NewID func(prefix string) string
	// Backoff waits before a retry of a lost race; nil uses a short jittered wait.
	Backoff func(ctx context.Context, attempt int)
}

// Routes adds the customer and invoice routes to svc over store.
func Routes(svc *endpoint.Service, store *billingdb.Store) *Handlers {
	h := &Handlers{Store: store, NewID: billing.NewID}
	svc.Handle("CreateCustomer", h.createCustomer)
	svc.Handle("ListCustomers", h.listCustomers)
	svc.Handle("GetCustomer", h.getCustomer)
	svc.Handle("UpdateCustomer", h.updateCustomer)
	svc.Handle("CreateInvoice", h.createInvoice)
	svc.Handle("ListInvoices", h.listInvoices)
	svc.Handle("GetInvoice", h.getInvoice)
	svc.Handle("UpdateInvoice", h.updateInvoice)
	svc.Handle("DeleteInvoice", h.deleteInvoice)
	svc.Handle("FinalizeInvoice", h.finalizeInvoice)
	svc.Handle("VoidInvoice", h.transition(billing.VoidEvent))
	svc.Handle("MarkInvoiceUncollectible", h.transition(billing.MarkUncollectible))
	svc.Handle("GetPayment", h.getPayment)
	svc.Handle("ListPayments", h.listPayments)
	return h
}

func (h *Handlers) backoff(ctx context.Context, attempt int) {
	if h.Backoff != nil {
		h.Backoff(ctx, attempt)
		return
	}
	endpoint.Backoff(ctx, attempt)
}

// --- customers ---

func (h *Handlers) createCustomer(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	var in billing.CustomerInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	cus, err := billing.NewCustomer(h.NewID(billing.CustomerPrefix), in, billing.FormatTime(h.Clock.Now()))
	if err != nil {
		return nil, err
	}
	items, err := h.Store.CreateCustomerItems(ctx, cus)
	if err != nil {
		return nil, keysUnavailable(err)
	}
	c.Touch(resCustomer, cus.ID)
	c.SealOutcomeFor(cus.ID)
	return c.Commit(ctx, http.StatusCreated, cus, items...)
}

// readCustomer loads a customer the caller may see with action; another customer's is not_found.
func (h *Handlers) readCustomer(ctx context.Context, c *endpoint.Call, id string, action auth.Action) (*billing.Customer, error) {
	if !c.Principal.CanAccess(action, id) {
		return nil, problem.New(problem.NotFound, "No such customer.")
	}
	cus, err := h.Store.GetCustomer(ctx, id)
	if err != nil {
		return nil, keysUnavailable(err)
	}
	c.Touch(resCustomer, cus.ID)
	return cus, nil
}

func (h *Handlers) getCustomer(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	cus, err := h.readCustomer(ctx, c, c.PathParam("id"), auth.ReadCustomers)
	if err != nil {
		return nil, err
	}
	return &endpoint.Result{Status: http.StatusOK, Body: cus}, nil
}

func (h *Handlers) listCustomers(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	page, err := billingdb.ParsePage(c.Query("limit"), c.Query("cursor"), billing.CustomerPrefix)
	if err != nil {
		return nil, err
	}
	if c.Principal.OwnOnly(auth.ReadCustomers) {
		// A customer's list is its own record.
		list := billingdb.List[*billing.Customer]{Object: "list", Data: []*billing.Customer{}}
		if page.After == "" {
			cus, err := h.readCustomer(ctx, c, c.Principal.CustomerID, auth.ReadCustomers)
			if err != nil && problem.CodeOf(err) != problem.NotFound {
				return nil, err
			}
			if cus != nil {
				list.Data = append(list.Data, cus)
			}
		}
		return &endpoint.Result{Status: http.StatusOK, Body: list}, nil
	}
	list, err := h.Store.ListCustomers(ctx, page)
	if err != nil {
		return nil, keysUnavailable(err)
	}
	return &endpoint.Result{Status: http.StatusOK, Body: list}, nil
}

func (h *Handlers) updateCustomer(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	var p billing.CustomerPatch
	if err := c.Decode(&p); err != nil {
		return nil, err
	}
	return h.optimistic(ctx, 1, func() (*endpoint.Result, error) {
		cus, err := h.readCustomer(ctx, c, c.PathParam("id"), auth.WriteCustomers)
		if err != nil {
			return nil, err
		}
		if cus.Erased {
			return nil, billing.ErrErased()
		}
		prev := cus.Version
		if err := cus.ApplyPatch(p, billing.FormatTime(h.Clock.Now())); err != nil {
			return nil, err
		}
		cus.Version++
		item, err := h.Store.UpdateCustomerItem(ctx, cus, prev)
		if err != nil {
			return nil, keysUnavailable(err)
		}
		c.SealOutcomeFor(cus.ID)
		return c.Commit(ctx, http.StatusOK, cus, item)
	})
}

// --- invoices ---

// readInvoice loads an invoice the caller may see with action; another customer's is not_found.
func (h *Handlers) readInvoice(ctx context.Context, c *endpoint.Call, action auth.Action) (*billing.Invoice, error) {
	inv, err := h.Store.Get(ctx, c.PathParam("id"))
	if err != nil {
		return nil, err
	}
	if !c.Principal.CanAccess(action, inv.CustomerID) {
		return nil, problem.New(problem.NotFound, "No such invoice.")
	}
	c.Touch(resInvoice, inv.ID)
	return inv, nil
}

func (h *Handlers) getInvoice(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	inv, err := h.readInvoice(ctx, c, auth.ReadInvoices)
	if err != nil {
		return nil, err
	}
	return &endpoint.Result{Status: http.StatusOK, Body: inv}, nil
}

func (h *Handlers) listInvoices(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	page, err := billingdb.ParsePage(c.Query("limit"), c.Query("cursor"), billing.InvoicePrefix)
	if err != nil {
		return nil, err
	}
	f := billingdb.InvoiceFilter{CustomerID: c.Query("customer_id"), Status: billing.Status(c.Query("status"))}
	var errs billing.Errors
	if f.Status != "" && !f.Status.Valid() {
		errs.Add("status", "must be one of draft, open, paid, void, uncollectible")
	}
	if f.CustomerID != "" && !billing.ValidID(billing.CustomerPrefix, f.CustomerID) {
		return nil, problem.New(problem.NotFound, "No such customer.")
	}
	if err := errs.Err(); err != nil {
		e := problem.From(err)
		e.Malformed = true
		return nil, e
	}
	if c.Principal.OwnOnly(auth.ReadInvoices) {
		if f.CustomerID != "" && f.CustomerID != c.Principal.CustomerID {
			return nil, problem.New(problem.NotFound, "No such customer.")
		}
		f.CustomerID = c.Principal.CustomerID
	}
	list, err := h.Store.ListInvoices(ctx, f, page)
	if err != nil {
		return nil, err
	}
	return &endpoint.Result{Status: http.StatusOK, Body: list}, nil
}

func (h *Handlers) createInvoice(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	var in billing.InvoiceInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	inv, err := billing.NewInvoice(h.NewID(billing.InvoicePrefix), in, h.NewID, h.Clock.Now())
	if err != nil {
		return nil, err
	}
	items, err := h.Store.CreateInvoiceItems(inv)
	if err != nil {
		return nil, err
	}
	c.Touch(resInvoice, inv.ID)
	c.Touch(resCustomer, inv.CustomerID)
	res, err := c.Commit(ctx, http.StatusCreated, inv, items...)
	if billingdb.Failed(err, 0, billingdb.ReasonConditionFailed) {
		return nil, h.unknownOrErased(ctx, inv.CustomerID, err)
	}
	return res, err
}

// unknownOrErased explains a failed customer condition: the customer does not exist, or was erased.
func (h *Handlers) unknownOrErased(ctx context.Context, customerID string, cause error) error {
	if cus, err := h.Store.GetCustomer(ctx, customerID); err == nil && cus.Erased {
		return billing.ErrErased()
	}
	return unknownCustomer(cause)
}

func unknownCustomer(cause error) error {
	e := problem.Invalid(problem.FieldError{Field: "customer_id", Message: "no such customer"})
	e.Err = cause
	return e
}

func (h *Handlers) updateInvoice(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	var p billing.InvoicePatch
	if err := c.Decode(&p); err != nil {
		return nil, err
	}
	return h.optimistic(ctx, 2, func() (*endpoint.Result, error) {
		inv, err := h.readInvoice(ctx, c, auth.WriteInvoices)
		if err != nil {
			return nil, err
		}
		prev := inv.Version
		if err := inv.ApplyPatch(p, h.NewID, h.Clock.Now()); err != nil {
			return nil, err
		}
		inv.Version++
		items, err := h.Store.UpdateInvoiceItems(inv, prev)
		if err != nil {
			return nil, err
		}
		res, err := c.Commit(ctx, http.StatusOK, inv, items...)
		if billingdb.Failed(err, 0, billingdb.ReasonConditionFailed) {
			return nil, h.unknownOrErased(ctx, inv.CustomerID, err)
		}
		return res, err
	})
}

func (h *Handlers) deleteInvoice(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	return h.optimistic(ctx, 1, func() (*endpoint.Result, error) {
		inv, err := h.readInvoice(ctx, c, auth.WriteInvoices)
		if err != nil {
			return nil, err
		}
		if _, err := billing.Next(inv.Status, billing.Delete); err != nil {
			return nil, err
		}
		gone := Deleted{ID: inv.ID, Object: billing.ObjectInvoice, Deleted: true}
		return c.Commit(ctx, http.StatusOK, gone, h.Store.DeleteInvoiceItem(inv))
	})
}

// Deleted is the body of a successful DELETE.
type Deleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

func (h *Handlers) finalizeInvoice(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	return h.optimistic(ctx, 2, func() (*endpoint.Result, error) {
		inv, err := h.readInvoice(ctx, c, auth.WriteInvoices)
		if err != nil {
			return nil, err
		}
		prev := inv.Version
		if err := inv.Apply(billing.Finalize, h.Clock.Now()); err != nil {
			return nil, err
		}
		last, err := h.Store.LastNumber(ctx)
		if err != nil {
			return nil, err
		}
		number := billing.FormatNumber(last + 1)
		inv.Number, inv.Version = &number, prev+1
		items, err := h.Store.FinalizeItems(inv, prev, last)
		if err != nil {
			return nil, err
		}
		return c.Commit(ctx, http.StatusOK, inv, items...)
	})
}

func (h *Handlers) transition(ev billing.Event) endpoint.Handler {
	return func(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
		return h.optimistic(ctx, 1, func() (*endpoint.Result, error) {
			inv, err := h.readInvoice(ctx, c, auth.WriteInvoices)
			if err != nil {
				return nil, err
			}
			prev, from := inv.Version, inv.Status
			if err := inv.Apply(ev, h.Clock.Now()); err != nil {
				return nil, err
			}
			inv.Version++
			item, err := h.Store.TransitionItem(inv, prev, from)
			if err != nil {
				return nil, err
			}
			return c.Commit(ctx, http.StatusOK, inv, item)
		})
	}
}

// errRetry tells a handler's loop to read again and retry its change.
var errRetry = errors.New("retry")

// optimistic runs change (read, modify, commit under optimistic locking on its first items items)
// until it commits or fails for a reason a fresh read would not cure.
func (h *Handlers) optimistic(ctx context.Context, items int, change func() (*endpoint.Result, error)) (*endpoint.Result, error) {
	for attempt := 0; ; attempt++ {
		res, err := change()
		if err = h.retry(ctx, err, items, attempt); err != errRetry {
			return res, err
		}
	}
}

// retry decides what a change's error means: nil and final errors are returned as they are; a lost
// optimistic-locking race on one of the first items (the handler's own) is retried after a fresh
// read, which then sees the winner's change (and may refuse, e.g. invoice_not_draft); too many lost
// races is a 503 the client may retry.
func (h *Handlers) retry(ctx context.Context, err error, items, attempt int) error {
	var decided *problem.Error // a refusal already made from the commit's reasons, e.g. unknown customer
	if err == nil || errors.As(err, &decided) || !billingdb.Contended(err, items) {
		return translate(err)
	}
	if attempt+1 >= maxAttempts || ctx.Err() != nil {
		return problem.Wrap(problem.ServiceUnavailable, err, "The invoice is being changed by other requests; retry shortly.")
	}
	h.backoff(ctx, attempt)
	return errRetry
}

// keysUnavailable marks a KMS fault on a customer key: the client sees 503 and may retry; nothing was
// stored or returned.
func keysUnavailable(err error) error {
	var ke *envelope.KMSError
	if errors.As(err, &ke) {
		return problem.Wrap(problem.ServiceUnavailable, err, "Customer data cannot be opened right now; nothing was changed. Retry shortly.")
	}
	return err
}

// translate maps DynamoDB faults to service_unavailable (503): nothing was stored and a retry may succeed.
func translate(err error) error {
	return billingdb.Unavailable(err, "The billing store is unavailable; nothing was changed. Retry shortly.")
}
