// Package auth owns who may do what: the roles, the permission table of DESIGN §4, and the principal
// that the authorizer hands to every handler.
package auth

import (
	"strconv"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Role is one of the five roles, carried in the token's cognito:groups claim.
type Role string

// The roles of DESIGN §4.
const (
	Admin    Role = "admin"
	Billing  Role = "billing"
	Payments Role = "payments"
	Auditor  Role = "auditor"
	Customer Role = "customer"
)

// Roles lists every role, most privileged first; a token in several groups gets the first one it holds.
var Roles = []Role{Admin, Billing, Payments, Auditor, Customer}

// Action is something a route does, checked against the permission table.
type Action string

// The actions of DESIGN §4.
const (
	ReadSelf       Action = "self:read"
	WriteCustomers Action = "customers:write"
	ReadCustomers  Action = "customers:read"
	WriteInvoices  Action = "invoices:write"
	ReadInvoices   Action = "invoices:read"
	WriteTokens    Action = "tokens:write"
	ReadTokens     Action = "tokens:read"
	PayInvoices    Action = "invoices:pay"
	ReadAudit      Action = "audit:read"
	// IssueCreditNotes is a credit note on an open invoice; RefundInvoices is one on a paid invoice,
	// which refunds its payment. Both are POST /v1/invoices/{id}/credit-notes: which one a request is
	// depends on the invoice's status, so the route is checked against CreateCreditNotes (anyone who
	// may do either) and the handler checks the one the invoice calls for once it has read it.
	IssueCreditNotes  Action = "credit_notes:issue"
	RefundInvoices    Action = "invoices:refund"
	CreateCreditNotes Action = "credit_notes:create"
	ReadPayments      Action = "payments:read"
	ReadCreditNotes   Action = "credit_notes:read"
	// ManageUsers is inviting, reading and changing the users of the user pool and their roles.
	ManageUsers Action = "users:manage"
	// ExportCustomers is a customer's data export (GDPR articles 15 and 20); EraseCustomers its
	// crypto-shredding erasure (article 17).
	ExportCustomers Action = "customers:export"
	EraseCustomers  Action = "customers:erase"
)

// Scope is how far an allowed action reaches.
type Scope int

// Scopes: None denies, All allows on every object, Own allows only on the caller's own customer objects.
const (
	None Scope = iota
	Own
	All
)

// permissions is DESIGN §4 as data. Every handler checks it through Authorize; nothing else grants access.
var permissions = map[Action]map[Role]Scope{
	ReadSelf:       {Admin: All, Billing: All, Payments: All, Auditor: All, Customer: All},
	WriteCustomers: {Admin: All, Billing: All},
	ReadCustomers:  {Admin: All, Billing: All, Payments: All, Auditor: All, Customer: Own},
	WriteInvoices:  {Admin: All, Billing: All},
	ReadInvoices:   {Admin: All, Billing: All, Payments: All, Auditor: All, Customer: Own},
	WriteTokens:    {Payments: All, Customer: Own},
	ReadTokens:     {Admin: All, Payments: All, Auditor: All, Customer: Own},
	PayInvoices:    {Payments: All, Customer: Own},
	ReadAudit:      {Admin: All, Auditor: All},

	IssueCreditNotes:  issueCreditNotes,
	RefundInvoices:    refundInvoices,
	CreateCreditNotes: anyOf(issueCreditNotes, refundInvoices),
	ReadPayments:      {Admin: All, Billing: All, Payments: All, Auditor: All, Customer: Own},
	ReadCreditNotes:   {Admin: All, Billing: All, Payments: All, Auditor: All, Customer: Own},
	ManageUsers:       {Admin: All},
	ExportCustomers:   {Admin: All, Customer: Own},
	EraseCustomers:    {Admin: All},
}

// The two rows behind the credit note route (see IssueCreditNotes).
var (
	issueCreditNotes = map[Role]Scope{Admin: All, Billing: All}
	refundInvoices   = map[Role]Scope{Admin: All, Payments: All}
)

// anyOf is the row of a route that performs one of several actions: each role gets the widest scope
// any of them gives it. The handler then checks the action it performs.
func anyOf(rows ...map[Role]Scope) map[Role]Scope {
	out := map[Role]Scope{}
	for _, row := range rows {
		for role, scope := range row {
			out[role] = max(out[role], scope)
		}
	}
	return out
}

// ScopeOf returns how far role may perform action.
func ScopeOf(role Role, action Action) Scope { return permissions[action][role] }

// RoleFromGroups picks the role from a token's groups; ok is false when none is a known role.
func RoleFromGroups(groups []string) (Role, bool) {
	for _, r := range Roles {
		for _, g := range groups {
			if Role(g) == r {
				return r, true
			}
		}
	}
	return "", false
}

// Principal is the authenticated caller, as established by the authorizer.
type Principal struct {
	// ID is the token subject; it scopes idempotency keys and names the caller in audit records.
	ID         string
	Username   string
	Role       Role
	CustomerID string
	MFA        bool
	// MFAProof says how MFA was proven (DESIGN §4); the audit trail records it.
	MFAProof MFAProof
}

// MFAProof is how a token proved that its user authenticated with a second factor.
type MFAProof string

// The MFA proofs: the token's amr claim names mfa, or its issuer is a user pool that requires MFA of
// every user; none means the token proves no second factor (and is refused).
const (
	MFAByAMR  MFAProof = "amr"
	MFAByPool MFAProof = "pool"
	MFANone   MFAProof = "none"
)

// Authorize returns a forbidden error unless p may perform action at least on its own objects.
// Handlers still call CanAccess for each customer-owned object they touch.
func (p Principal) Authorize(action Action) error {
	if !p.MFA {
		return problem.New(problem.MFARequired, "This request requires a token issued after multi-factor authentication.")
	}
	if ScopeOf(p.Role, action) == None {
		return problem.New(problem.Forbidden, "Your role may not perform this action.")
	}
	return nil
}

// CanAccess reports whether p may perform action on an object owned by customerID.
// A customer-scoped caller is only ever shown its own objects; handlers answer 404 otherwise so that
// the existence of another customer's object is not revealed.
func (p Principal) CanAccess(action Action, customerID string) bool {
	switch ScopeOf(p.Role, action) {
	case All:
		return true
	case Own:
		return p.CustomerID != "" && p.CustomerID == customerID
	}
	return false
}

// OwnOnly reports whether p's access to action is limited to its own customer's objects, so list
// queries must be filtered to p.CustomerID.
func (p Principal) OwnOnly(action Action) bool { return ScopeOf(p.Role, action) == Own }

// Context keys the authorizer puts in API Gateway's requestContext.authorizer map.
const (
	CtxPrincipal  = "principalId"
	CtxUsername   = "username"
	CtxRole       = "role"
	CtxCustomerID = "customerId"
	CtxMFA        = "mfa"
	CtxMFAProof   = "mfaProof"
	// CtxCode carries a denial's problem code (mfa_required) to the gateway's 403 response.
	CtxCode = "code"
	// CtxTitle carries the problem title of that code, so the deployed 403 needs no lookup table.
	CtxTitle = "title"
)

// Context renders p as the authorizer context. API Gateway only passes strings, numbers and booleans.
func (p Principal) Context() map[string]any {
	return map[string]any{
		CtxPrincipal:  p.ID,
		CtxUsername:   p.Username,
		CtxRole:       string(p.Role),
		CtxCustomerID: p.CustomerID,
		CtxMFA:        strconv.FormatBool(p.MFA),
		CtxMFAProof:   string(p.MFAProof),
	}
}

// FromContext reads the principal back from a proxy request's requestContext.authorizer map. A request
// with no principal is unauthorized: in AWS that cannot happen behind the authorizer, so it means a
// misconfigured route and must fail closed.
func FromContext(m map[string]any) (Principal, error) {
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case bool:
			return strconv.FormatBool(v)
		}
		return ""
	}
	p := Principal{
		ID:         str(CtxPrincipal),
		Username:   str(CtxUsername),
		Role:       Role(str(CtxRole)),
		CustomerID: str(CtxCustomerID),
		MFA:        str(CtxMFA) == "true",
		MFAProof:   MFAProof(str(CtxMFAProof)),
	}
	if p.ID == "" || p.Role == "" {
		return Principal{}, problem.New(problem.Unauthorized, "The request carries no authenticated principal.")
	}
	if p.Role == Customer && p.CustomerID == "" {
		return Principal{}, problem.New(problem.Forbidden, "A customer token must carry custom:customer_id.")
	}
	return p, nil
}
