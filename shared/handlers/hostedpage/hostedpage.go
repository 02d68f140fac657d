// Package hostedpage serves the hosted invoice page (DESIGN §5): an invoice and a card form, reached by
// a link (shared/adapters/hostedlink) instead of an account. The page is plain HTML, one stylesheet and one
// script of our own, embedded in the binary; its Content-Security-Policy admits nothing else. The card
// number never passes through this package: the page's script sends it to the tokens function.
package hostedpage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/hostedlink"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

//go:embed assets
var embedded embed.FS

// Assets is the page's static files (page.js, page.css, favicon.svg), served under /pay/assets/.
var Assets, _ = fs.Sub(embedded, "assets")

// Page serves the page's routes.
type Page struct {
	// Business is the name shown above every invoice (BUSINESS_NAME).
	Business string
	// BaseURL is the public base of the API (PUBLIC_BASE_URL) that links are made under; "" means the
	// host the request came to.
	BaseURL  string
	Invoices *billingdb.Store
	Links    *hostedlink.Store
	// Assets are the files served under /pay/assets/; tests replace one to see the change detected.
	Assets fs.FS
	// Alert raises the alert of a CSP violation report.
	Alert *Alerter
	Clock clock.Func
}

// Routes adds the page's routes to svc.
func (p *Page) Routes(svc *endpoint.Service) {
	if p.Assets == nil {
		p.Assets = Assets
	}
	svc.Capability = hostedlink.Resolver(p.Links, p.Invoices)
	svc.RenderError = p.renderError
	svc.Handle("CreateInvoiceLink", p.createLink)
	svc.Handle(hostedlink.PageOperation, p.page)
	svc.Handle("GetHostedPageAsset", p.asset)
	svc.Handle("ReportHostedPageViolation", p.report)
}

// LinkRequest is the optional body of POST /v1/invoices/{id}/link.
type LinkRequest struct {
	// ExpiresInHours is the link's life, 1 to 720 hours (default 168, a week).
	ExpiresInHours *int `json:"expires_in_hours"`
}

// LinkResponse answers POST /v1/invoices/{id}/link.
type LinkResponse struct {
	Object    string `json:"object"`
	InvoiceID string `json:"invoice_id"`
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

func (p *Page) createLink(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	var req LinkRequest
	if b, _ := httpapi.Body(c.Request); len(bytes.TrimSpace(b)) > 0 {
		if err := c.Decode(&req); err != nil {
			return nil, err
		}
	}
	ttl := hostedlink.DefaultTTL
	if req.ExpiresInHours != nil {
		h := *req.ExpiresInHours
		if h < 1 || time.Duration(h)*time.Hour > hostedlink.MaxTTL {
			return nil, problem.Invalid(problem.FieldError{Field: "expires_in_hours", Message: "must be between 1 and 720"})
		}
		ttl = time.Duration(h) * time.Hour
	}
	inv, err := p.Invoices.Get(ctx, c.PathParam("id"))
	if err != nil {
		return nil, err
	}
	c.Touch("invoice", inv.ID)
	if !c.Principal.CanAccess(auth.WriteInvoices, inv.CustomerID) {
		return nil, problem.New(problem.NotFound, "No such invoice.")
	}
	if inv.Status != billing.Open {
		return nil, problem.New(problem.InvalidState, "Only an open invoice can be paid through a link; this one is %s.", inv.Status)
	}
	secret, link, item, err := p.Links.New(inv, ttl)
	if err != nil {
		return nil, err
	}
	c.Touch("invoice_link", link.ID)
	return c.Commit(ctx, http.StatusCreated, LinkResponse{
		Object: "invoice_link", InvoiceID: inv.ID,
		URL:       p.base(c.Request) + "/pay/" + secret,
		ExpiresAt: link.ExpiresAt.UTC().Format(time.RFC3339),
	}, item)
}

// base is the public URL the API is reached at. Behind API Gateway's default domain the stage is the
// first path segment; a custom domain (PUBLIC_BASE_URL) maps it away.
func (p *Page) base(req *events.APIGatewayProxyRequest) string {
	if p.BaseURL != "" {
		return strings.TrimRight(p.BaseURL, "/")
	}
	scheme := httpapi.Header(req, "X-Forwarded-Proto")
	if scheme == "" {
		scheme = "http"
	}
	host := httpapi.Header(req, "Host")
	if strings.Contains(host, ".execute-api.") {
		return "https://" + host + "/" + req.RequestContext.Stage
	}
	return scheme + "://" + host
}

// view is what render writes.
type view struct {
	Business, Title           string
	CSSIntegrity, JSIntegrity string
	Invoice                   *invoiceView
	CustomerID                string
	Payable, ShowPaid         bool
	Notice, NoticeDetail      string
}

type invoiceView struct {
	Due                                             string
	Lines                                           []lineView
	Subtotal, Tax, Total, Credited, Paid, AmountDue string
}

type lineView struct {
	Description string
	Quantity    int64
	Amount      string
}

func (p *Page) page(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	inv, err := p.Invoices.Get(ctx, c.PathParam("id"))
	if err != nil {
		return nil, err
	}
	c.Touch("invoice", inv.ID)
	v := p.view()
	v.Title = "Invoice"
	if inv.Number != nil {
		v.Title = "Invoice " + *inv.Number
	}
	v.Invoice = invoiceOf(inv)
	v.CustomerID = inv.CustomerID
	switch inv.Status {
	case billing.Open:
		v.Payable = true
	case billing.Paid:
		v.ShowPaid = true
	default:
		v.Notice = "This invoice is no longer open for payment."
		v.NoticeDetail = "Contact " + p.Business + " if you think this is a mistake."
	}
	return p.html(http.StatusOK, c.PathParam("link"), v)
}

func invoiceOf(inv *billing.Invoice) *invoiceView {
	m := func(a int64) string { return FormatMoney(a, inv.Currency) }
	iv := &invoiceView{
		Subtotal: m(inv.Subtotal), Tax: m(inv.Tax), Total: m(inv.Total), AmountDue: m(inv.AmountDue),
	}
	if inv.DueDate != nil {
		iv.Due = *inv.DueDate
	}
	if inv.AmountCredited != 0 {
		iv.Credited = m(inv.AmountCredited)
	}
	if inv.AmountPaid != 0 {
		iv.Paid = m(inv.AmountPaid)
	}
	for _, l := range inv.Lines {
		iv.Lines = append(iv.Lines, lineView{Description: l.Description, Quantity: l.Quantity, Amount: m(l.Amount)})
	}
	return iv
}

func (p *Page) view() view {
	return view{Business: p.Business, CSSIntegrity: p.integrity("page.css"), JSIntegrity: p.integrity("page.js")}
}

// integrity is the Subresource Integrity value of an asset as served.
func (p *Page) integrity(name string) string {
	b, err := fs.ReadFile(p.Assets, name)
	if err != nil {
		return ""
	}
	return SRI(b)
}

// SRI is the sha384 Subresource Integrity value of b.
func SRI(b []byte) string {
	h := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(h[:])
}

// SHA256 is the base64 SHA-256 of b, as CSP hash sources and many inventories write it.
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
}

// renderError shows a refused page request (a forged, expired or revoked link) as a page, with the
// same headers and assets as the invoice page, so a customer reads what happened.
func (p *Page) renderError(c *endpoint.Call, err error) (events.APIGatewayProxyResponse, bool) {
	if c.Route.Operation != hostedlink.PageOperation {
		return events.APIGatewayProxyResponse{}, false
	}
	e := problem.From(err)
	v := p.view()
	v.Title = "Payment link"
	switch e.Code {
	case problem.NotFound:
		v.Notice, v.NoticeDetail = "This payment link cannot be used.", e.Detail
	case problem.RateLimited:
		v.Notice, v.NoticeDetail = "Too many attempts.", "Wait a while, then reload this page."
	default:
		v.Notice, v.NoticeDetail = "This page is unavailable right now.", "Reload it in a moment."
	}
	res, rerr := p.html(problem.StatusOf(e.Code), c.PathParam("link"), v)
	if rerr != nil {
		return events.APIGatewayProxyResponse{}, false
	}
	return *res.Response, true
}

// linkShape is what a link in the path must look like to be echoed in the page's report-uri: a refused
// path segment may be anything a client sent, even a card number, and is not repeated back.
var linkShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (p *Page) html(status int, link string, v view) (*endpoint.Result, error) {
	if !linkShape.MatchString(link) || logging.ContainsPAN(link) {
		link = "invalid"
	}
	h := SecurityHeaders(link)
	h["Content-Type"] = "text/html; charset=utf-8"
	return &endpoint.Result{Status: status, Response: &events.APIGatewayProxyResponse{StatusCode: status, Headers: h, Body: render(v)}}, nil
}

// assetTypes are the served assets and their content types; nothing else is served.
var assetTypes = map[string]string{
	"page.js":     "text/javascript; charset=utf-8",
	"page.css":    "text/css; charset=utf-8",
	"favicon.svg": "image/svg+xml",
}

func (p *Page) asset(_ context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	name := c.PathParam("name")
	ct, ok := assetTypes[name]
	if !ok {
		return nil, problem.New(problem.NotFound, "No such asset.")
	}
	b, err := fs.ReadFile(p.Assets, name)
	if err != nil {
		return nil, problem.New(problem.NotFound, "No such asset.")
	}
	h := SecurityHeaders("")
	delete(h, "Content-Security-Policy") // a script or stylesheet is governed by its page's policy
	h["Content-Type"] = ct
	return &endpoint.Result{Status: http.StatusOK, Response: &events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Headers: h, Body: string(b)}}, nil
}

// CSP is the page's Content-Security-Policy: nothing but our own origin's stylesheet and script (each
// also pinned by its Subresource Integrity hash in the page), no inline code, no framing, no form
// submission. Violations are reported to the link's own report endpoint: LinkPlaceholder stands for
// the link, and the URL is relative to the page (/pay/<link>), so it holds under any stage prefix.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'; report-uri " + LinkPlaceholder + "/csp-report"

// LinkPlaceholder stands for the page's link in CSP.
const LinkPlaceholder = "{link}"

// SecurityHeaders are the headers of every page response for the given link (PCI DSS 6.4.3; 11.6.1
// watches them).
func SecurityHeaders(link string) map[string]string {
	return map[string]string{
		"Content-Security-Policy":      strings.ReplaceAll(CSP, LinkPlaceholder, link),
		"Strict-Transport-Security":    "max-age=63072000; includeSubDomains",
		"Referrer-Policy":              "no-referrer",
		"X-Content-Type-Options":       "nosniff",
		"Cache-Control":                "no-store",
		"X-Frame-Options":              "DENY",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
}

// cspReport is the part of a browser's CSP violation report that is kept. The document and source
// URLs are not: the document's URL holds the link.
type cspReport struct {
	Report struct {
		EffectiveDirective string `json:"effective-directive"`
		ViolatedDirective  string `json:"violated-directive"`
		BlockedURI         string `json:"blocked-uri"`
	} `json:"csp-report"`
}

// maxReportBytes bounds a report; browsers send well under 4 KiB.
const maxReportBytes = 16 << 10

func (p *Page) report(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	b, err := httpapi.Body(c.Request)
	if err != nil {
		return nil, err
	}
	var r cspReport
	// Browsers add fields to reports over time, so unknown fields are ignored here (unlike the API's
	// strict bodies); nothing from the body is stored but the two short fields below, redacted.
	if len(b) > maxReportBytes || json.Unmarshal(b, &r) != nil {
		return nil, problem.Malformed("The body is not a CSP violation report.")
	}
	directive := r.Report.EffectiveDirective
	if directive == "" {
		directive = r.Report.ViolatedDirective
	}
	directive = clip(logging.Redact(directive), 64)
	blocked := clip(logging.Redact(blockedOrigin(r.Report.BlockedURI)), 128)
	c.Touch("csp_directive", directive)
	c.Touch("csp_blocked", blocked)
	p.Alert.Violation(c.Log(), directive, blocked)
	return &endpoint.Result{Status: http.StatusNoContent, Response: &events.APIGatewayProxyResponse{
		StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store"},
	}}, nil
}

// blockedOrigin keeps what was blocked down to a keyword ("inline", "eval") or an origin: a full URL
// may carry query parameters of someone else's page.
func blockedOrigin(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		return u[:i+3] + rest
	}
	return u
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Alerter raises the alert of a CSP violation: an ALERT log line and an EMF metric, as the audit
// writer's alerter does, so the same alarms catch it.
type Alerter struct {
	Metrics interface{ Write([]byte) (int, error) }
	Clock   clock.Func
}

// MetricNamespace and the metric names of the page's alerts.
const (
	MetricNamespace    = "Vaultbill/HostedPage"
	MetricCSPViolation = "CSPViolation"
	MetricPageChanged  = "PageChanged"
)

// Violation raises the alert of one violation report.
func (a *Alerter) Violation(log interface {
	Error(msg string, args ...any)
}, directive, blocked string) {
	log.Error("ALERT: the hosted invoice page reported a Content-Security-Policy violation", "alert", true,
		"directive", directive, "blocked", blocked)
	a.metric(MetricCSPViolation)
}

func (a *Alerter) metric(name string) {
	if a == nil || a.Metrics == nil {
		return
	}
	now := a.Clock.Now()
	b, _ := json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace": MetricNamespace, "Dimensions": [][]string{{}},
				"Metrics": []any{map[string]any{"Name": name, "Unit": "Count"}},
			}},
		},
		name: 1,
	})
	_, _ = a.Metrics.Write(append(b, '\n'))
}
