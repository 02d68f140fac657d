// Package routes is the one table of HTTP routes: the local gateway serves it and the CDK app builds
// the REST API from it, so the two cannot drift.
package routes

import (
	"net/http"
	"strings"

	"github.com/vaultbill/vaultbill/shared/domain/auth"
)

// Route is one method on one API Gateway resource path.
type Route struct {
	Method string
	// Path is the API Gateway resource path, with {name} path parameters.
	Path string
	// Function is the folder under functions/ that serves the route.
	Function string
	// Action is checked against the permission table before the handler runs.
	Action auth.Action
	// Operation names the route in audit records (eventName) and in the OpenAPI document (operationId).
	Operation string
}

// ReadOnly reports whether the route changes nothing (audit records carry it as readOnly).
func (r Route) ReadOnly() bool { return r.Method == http.MethodGet }

// Key identifies a route the way API Gateway does in a proxy event: method and resource path.
func (r Route) Key() string { return r.Method + " " + r.Path }

// Function names.
const (
	Me         = "me"
	Invoices   = "invoices"
	Tokens     = "tokens"
	Payments   = "payments"
	AuditQuery = "audit-query"
	// CreditNotes issues credit notes and refunds them through the card processor; it has no vault access.
	CreditNotes = "credit-notes"
	// Users administers the user pool's users and their roles (admin only).
	Users = "users"
	// HostedPage serves the hosted invoice page and creates its links; it never sees a card number.
	HostedPage = "hosted-page"
	// DataRights exports and erases a customer's data: it reads the billing and vault tables and
	// opens customer keys, so invoices stays out of the vault and tokens away from personal data.
	DataRights = "data-rights"
)

// LinkPrefix starts the paths of the hosted invoice page. Routes under it are served without the
// authorizer: the page's visitor holds a link (a capability in the path), not a token, and the
// function serving the route checks that capability itself (shared/adapters/hostedlink).
const LinkPrefix = "/pay/"

// CapabilityChecked reports whether the route is served without the authorizer (see LinkPrefix).
// The local gateway and the CDK app both ask this, so the two cannot disagree on which routes are open.
func (r Route) CapabilityChecked() bool { return strings.HasPrefix(r.Path, LinkPrefix) }

// All is every route of the HTTP API v1.
var All = []Route{
	{http.MethodGet, "/v1/me", Me, auth.ReadSelf, "GetMe"},

	{http.MethodPost, "/v1/customers", Invoices, auth.WriteCustomers, "CreateCustomer"},
	{http.MethodGet, "/v1/customers", Invoices, auth.ReadCustomers, "ListCustomers"},
	{http.MethodGet, "/v1/customers/{id}", Invoices, auth.ReadCustomers, "GetCustomer"},
	{http.MethodPatch, "/v1/customers/{id}", Invoices, auth.WriteCustomers, "UpdateCustomer"},

	{http.MethodPost, "/v1/invoices", Invoices, auth.WriteInvoices, "CreateInvoice"},
	{http.MethodGet, "/v1/invoices", Invoices, auth.ReadInvoices, "ListInvoices"},
	{http.MethodGet, "/v1/invoices/{id}", Invoices, auth.ReadInvoices, "GetInvoice"},
	{http.MethodPatch, "/v1/invoices/{id}", Invoices, auth.WriteInvoices, "UpdateInvoice"},
	{http.MethodDelete, "/v1/invoices/{id}", Invoices, auth.WriteInvoices, "DeleteInvoice"},
	{http.MethodPost, "/v1/invoices/{id}/finalize", Invoices, auth.WriteInvoices, "FinalizeInvoice"},
	{http.MethodPost, "/v1/invoices/{id}/void", Invoices, auth.WriteInvoices, "VoidInvoice"},
	{http.MethodPost, "/v1/invoices/{id}/mark-uncollectible", Invoices, auth.WriteInvoices, "MarkInvoiceUncollectible"},
	{http.MethodGet, "/v1/payments", Invoices, auth.ReadPayments, "ListPayments"},
	{http.MethodGet, "/v1/payments/{id}", Invoices, auth.ReadPayments, "GetPayment"},

	{http.MethodPost, "/v1/tokens", Tokens, auth.WriteTokens, "CreateToken"},
	{http.MethodGet, "/v1/tokens/{id}", Tokens, auth.ReadTokens, "GetToken"},
	{http.MethodDelete, "/v1/tokens/{id}", Tokens, auth.WriteTokens, "DeleteToken"},
	{http.MethodGet, "/v1/customers/{id}/tokens", Tokens, auth.ReadTokens, "ListCustomerTokens"},

	{http.MethodPost, "/v1/invoices/{id}/pay", Payments, auth.PayInvoices, "PayInvoice"},

	{http.MethodGet, "/v1/audit-events", AuditQuery, auth.ReadAudit, "ListAuditEvents"},

	{http.MethodPost, "/v1/invoices/{id}/credit-notes", CreditNotes, auth.CreateCreditNotes, "CreateCreditNote"},
	{http.MethodGet, "/v1/credit-notes", CreditNotes, auth.ReadCreditNotes, "ListCreditNotes"},
	{http.MethodGet, "/v1/credit-notes/{id}", CreditNotes, auth.ReadCreditNotes, "GetCreditNote"},

	{http.MethodPost, "/v1/users", Users, auth.ManageUsers, "CreateUser"},
	{http.MethodGet, "/v1/users", Users, auth.ManageUsers, "ListUsers"},
	{http.MethodGet, "/v1/users/{id}", Users, auth.ManageUsers, "GetUser"},
	{http.MethodPatch, "/v1/users/{id}", Users, auth.ManageUsers, "UpdateUser"},
	{http.MethodPost, "/v1/users/{id}/disable", Users, auth.ManageUsers, "DisableUser"},
	{http.MethodPost, "/v1/users/{id}/enable", Users, auth.ManageUsers, "EnableUser"},
	{http.MethodPost, "/v1/users/{id}/sign-out", Users, auth.ManageUsers, "SignOutUser"},
	// The hosted invoice page. Its own routes (under LinkPrefix) are capability-checked; their Action
	// is what the link's principal (the invoice's customer) is then checked against by the handlers.
	{http.MethodPost, "/v1/invoices/{id}/link", HostedPage, auth.WriteInvoices, "CreateInvoiceLink"},
	{http.MethodGet, "/pay/{link}", HostedPage, auth.ReadInvoices, "GetHostedInvoicePage"},
	{http.MethodGet, "/pay/assets/{name}", HostedPage, auth.ReadInvoices, "GetHostedPageAsset"},
	{http.MethodPost, "/pay/{link}/csp-report", HostedPage, auth.ReadInvoices, "ReportHostedPageViolation"},
	{http.MethodPost, "/pay/{link}/tokens", Tokens, auth.WriteTokens, "CreateHostedPageToken"},
	{http.MethodPost, "/pay/{link}/pay", Payments, auth.PayInvoices, "PayHostedInvoice"},
	{http.MethodGet, "/v1/customers/{id}/export", DataRights, auth.ExportCustomers, "ExportCustomer"},
	{http.MethodPost, "/v1/customers/{id}/erase", DataRights, auth.EraseCustomers, "EraseCustomer"},
}

// Lookup finds the route for a method and resource path (not the concrete URL path).
func Lookup(method, resource string) (Route, bool) {
	for _, r := range All {
		if r.Method == method && r.Path == resource {
			return r, true
		}
	}
	return Route{}, false
}

// Match finds the route serving a concrete URL path and extracts its path parameters, as API Gateway
// does before it builds the proxy event. A literal segment wins over a parameter.
func Match(method, urlPath string) (Route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(urlPath, "/"), "/")
	best, bestLiterals := -1, -1
	var bestParams map[string]string
	for i, r := range All {
		if r.Method != method {
			continue
		}
		params, literals, ok := matchPath(strings.Split(strings.Trim(r.Path, "/"), "/"), segs)
		if ok && literals > bestLiterals {
			best, bestLiterals, bestParams = i, literals, params
		}
	}
	if best < 0 {
		return Route{}, nil, false
	}
	return All[best], bestParams, true
}

// PathExists reports whether any method serves urlPath, so the gateway can tell 405 from 404.
func PathExists(urlPath string) bool {
	segs := strings.Split(strings.Trim(urlPath, "/"), "/")
	for _, r := range All {
		if _, _, ok := matchPath(strings.Split(strings.Trim(r.Path, "/"), "/"), segs); ok {
			return true
		}
	}
	return false
}

func matchPath(pattern, segs []string) (map[string]string, int, bool) {
	if len(pattern) != len(segs) {
		return nil, 0, false
	}
	params := map[string]string{}
	literals := 0
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, 0, false
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, 0, false
		}
		literals++
	}
	return params, literals, true
}

// Functions lists the functions that serve HTTP routes, in table order.
func Functions() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range All {
		if !seen[r.Function] {
			seen[r.Function] = true
			out = append(out, r.Function)
		}
	}
	return out
}
