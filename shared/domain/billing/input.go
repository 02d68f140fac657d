package billing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Errors collects field errors so a client learns every problem with a request at once.
type Errors []problem.FieldError

// Add records that field is invalid.
func (e *Errors) Add(field, message string) {
	*e = append(*e, problem.FieldError{Field: field, Message: message})
}

// Err is a 422 validation_failed listing the fields, or nil when there are none.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return problem.Invalid(e...)
}

// Optional is a field of a JSON merge patch: absent (Set false), null (Set and Null), or a value.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records that the field was present. Nested objects are decoded as strictly as the
// request body itself: an unknown field is an error.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&o.Value)
}

// JSONValueType is the type the field's JSON decodes into, so that the request decoder checks its keys
// and values as strictly as the rest of the body.
func (o *Optional[T]) JSONValueType() reflect.Type { return reflect.TypeFor[T]() }

// Ptr returns the value, or nil when the patch sets the field to null.
func (o Optional[T]) Ptr() *T {
	if o.Null {
		return nil
	}
	v := o.Value
	return &v
}

// Limits of an invoice.
const (
	MaxLines             = 100
	MaxDescriptionLength = 500
	MaxMemoLength        = 2000
)

// LineInput is one line of an invoice request.
type LineInput struct {
	Description string `json:"description"`
	Quantity    *int64 `json:"quantity"`
	UnitAmount  *int64 `json:"unit_amount"`
	TaxRateBPS  *int64 `json:"tax_rate_bps"`
}

// InvoiceInput is the body of POST /v1/invoices.
type InvoiceInput struct {
	CustomerID string      `json:"customer_id"`
	Currency   string      `json:"currency"`
	DueDate    *string     `json:"due_date"`
	Memo       *string     `json:"memo"`
	Lines      []LineInput `json:"lines"`
}

// InvoicePatch is the body of PATCH /v1/invoices/{id}: a JSON merge patch of a draft. Lines, when
// present, replace all lines; null removes due_date or memo.
type InvoicePatch struct {
	CustomerID Optional[string]      `json:"customer_id"`
	Currency   Optional[string]      `json:"currency"`
	DueDate    Optional[string]      `json:"due_date"`
	Memo       Optional[string]      `json:"memo"`
	Lines      Optional[[]LineInput] `json:"lines"`
}

// NewInvoice validates in and returns the draft it describes, with totals computed. newID names lines.
// Whether the customer exists is checked by the store, in the same transaction as the write.
func NewInvoice(id string, in InvoiceInput, newID func(prefix string) string, now time.Time) (*Invoice, error) {
	ts := FormatTime(now)
	inv := &Invoice{
		ID: id, Object: ObjectInvoice, Status: Draft, CustomerID: in.CustomerID, Currency: Currency(in.Currency),
		DueDate: in.DueDate, Memo: in.Memo, CreatedAt: ts, UpdatedAt: ts, Version: 1,
	}
	var errs Errors
	inv.Lines = buildLines(in.Lines, newID, &errs)
	if err := inv.validate(errs); err != nil {
		return nil, err
	}
	return inv, nil
}

// ApplyPatch merges p into a draft and recomputes its totals; inv is unchanged on error. Editing an
// issued invoice is invoice_not_draft.
func (inv *Invoice) ApplyPatch(p InvoicePatch, newID func(prefix string) string, now time.Time) error {
	if _, err := Next(inv.Status, Edit); err != nil {
		return err
	}
	next := *inv
	var errs Errors
	for name, f := range map[string]Optional[string]{"customer_id": p.CustomerID, "currency": p.Currency} {
		if f.Null {
			errs.Add(name, "is required and cannot be null")
		}
	}
	if p.CustomerID.Set && !p.CustomerID.Null {
		next.CustomerID = p.CustomerID.Value
	}
	if p.Currency.Set && !p.Currency.Null {
		next.Currency = Currency(p.Currency.Value)
	}
	if p.DueDate.Set {
		next.DueDate = p.DueDate.Ptr()
	}
	if p.Memo.Set {
		next.Memo = p.Memo.Ptr()
	}
	switch {
	case p.Lines.Null:
		errs.Add("lines", "is required and cannot be null")
	case p.Lines.Set:
		next.Lines = buildLines(p.Lines.Value, newID, &errs)
	default:
		next.Lines = append([]Line(nil), inv.Lines...)
	}
	if err := next.validate(errs); err != nil {
		return err
	}
	next.UpdatedAt = FormatTime(now)
	*inv = next
	return nil
}

func buildLines(in []LineInput, newID func(string) string, errs *Errors) []Line {
	switch {
	case len(in) == 0:
		errs.Add("lines", "must have at least one line")
		return nil
	case len(in) > MaxLines:
		errs.Add("lines", fmt.Sprintf("must have at most %d lines", MaxLines))
		return nil
	}
	lines := make([]Line, len(in))
	for i, l := range in {
		f := func(name string) string { return fmt.Sprintf("lines[%d].%s", i, name) }
		switch {
		case strings.TrimSpace(l.Description) == "":
			errs.Add(f("description"), "is required")
		case utf8.RuneCountInString(l.Description) > MaxDescriptionLength:
			errs.Add(f("description"), fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
		}
		switch {
		case l.Quantity == nil:
			errs.Add(f("quantity"), "is required")
		case *l.Quantity < 1:
			errs.Add(f("quantity"), "must be a whole number of at least 1")
		}
		switch {
		case l.UnitAmount == nil:
			errs.Add(f("unit_amount"), "is required")
		case *l.UnitAmount < 0:
			errs.Add(f("unit_amount"), "must not be negative")
		}
		if l.TaxRateBPS != nil && (*l.TaxRateBPS < 0 || *l.TaxRateBPS > BasisPointsDenominator) {
			errs.Add(f("tax_rate_bps"), "must be between 0 and 10000 basis points")
		}
		lines[i] = Line{ID: newID(LinePrefix), Description: l.Description, Quantity: deref(l.Quantity), UnitAmount: deref(l.UnitAmount), TaxRateBPS: deref(l.TaxRateBPS)}
	}
	return lines
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// validate checks the invoice-level fields, adds them to the line errors already found, and computes
// the totals once everything else is valid.
func (inv *Invoice) validate(errs Errors) error {
	switch {
	case inv.CustomerID == "":
		errs.Add("customer_id", "is required")
	case !ValidID(CustomerPrefix, inv.CustomerID):
		errs.Add("customer_id", "no such customer")
	}
	switch {
	case inv.Currency == "":
		errs.Add("currency", "is required")
	case !inv.Currency.Valid():
		errs.Add("currency", "must be an ISO 4217 currency code in upper case, such as EUR")
	}
	if inv.DueDate != nil {
		if _, err := time.Parse(time.DateOnly, *inv.DueDate); err != nil {
			errs.Add("due_date", "must be a date such as 2026-12-31")
		}
	}
	if inv.Memo != nil && utf8.RuneCountInString(*inv.Memo) > MaxMemoLength {
		errs.Add("memo", fmt.Sprintf("must be at most %d characters", MaxMemoLength))
	}
	if err := errs.Err(); err != nil {
		return err
	}
	return inv.Recompute()
}

// ID prefixes.
const (
	CustomerPrefix = ids.Customer
	InvoicePrefix  = ids.Invoice
	LinePrefix     = ids.Line
	PaymentPrefix  = ids.Payment
	// CreditNotePrefix names credit notes, RefundPrefix the refunds of post-payment credit notes.
	CreditNotePrefix = ids.CreditNote
	RefundPrefix     = ids.Refund
)

// NewID returns prefix + 128 random bits in lower-case base32 (26 characters). IDs are never derived
// from data, so they reveal nothing about the object.
func NewID(prefix string) string { return ids.New(prefix) }

// ValidID reports whether s has the shape NewID(prefix) produces, so malformed ids never reach storage.
func ValidID(prefix, s string) bool { return ids.Valid(prefix, s) }
