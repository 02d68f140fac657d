package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
)

// Client sends requests to one local stack as one principal.
type Client struct {
	T     testing.TB
	S     *devstack.Stack
	Token string
}

// NewClient is a client with a fresh token of role (for a customer user, of customerID); the token's
// subject is "<role>-<customerID>".
func NewClient(t testing.TB, s *devstack.Stack, role, customerID string) *Client {
	t.Helper()
	return &Client{T: t, S: s, Token: Token(t, s, devstack.TokenSpec{Role: role, CustomerID: customerID, Subject: role + "-" + customerID})}
}

// Send sends a request (headers in name, value pairs) and returns the status, the body and the response.
func (c *Client) Send(method, path, body string, headers ...string) (int, string, *http.Response) {
	c.T.Helper()
	resp, b := Do(c.T, c.S, method, path, c.Token, body, headers...)
	return resp.StatusCode, b, resp
}

// Do sends a request and returns the status and the body.
func (c *Client) Do(method, path, body string, headers ...string) (int, string) {
	c.T.Helper()
	status, b, _ := c.Send(method, path, body, headers...)
	return status, b
}

// Must sends a request that has to answer want and decodes its body into out (when not nil).
func (c *Client) Must(want int, method, path, body string, out any, headers ...string) {
	c.T.Helper()
	status, b := c.Do(method, path, body, headers...)
	if status != want {
		c.T.Fatalf("%s %s: %d, want %d; body %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			c.T.Fatalf("%s %s: body %s: %v", method, path, b, err)
		}
	}
}

// Customer creates a customer named name (its email made from the name) through the invoices function.
func (c *Client) Customer(name string) billing.Customer {
	c.T.Helper()
	var cus billing.Customer
	c.Must(201, "POST", "/v1/customers", fmt.Sprintf(`{"name":%q,"email":"%s@example.com"}`, name, strings.ToLower(strings.ReplaceAll(name, " ", "."))), &cus)
	return cus
}

// Draft creates a draft of 2 × 19.99 EUR at 19% tax (total 4758) for the customer.
func (c *Client) Draft(customerID string) billing.Invoice {
	c.T.Helper()
	var inv billing.Invoice
	c.Must(201, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900}]}`, customerID), &inv)
	return inv
}

// Open creates and finalizes an invoice of 4758 (Draft) for the customer.
func (c *Client) Open(customerID string) billing.Invoice {
	c.T.Helper()
	inv := c.Draft(customerID)
	c.Must(200, "POST", "/v1/invoices/"+inv.ID+"/finalize", "", &inv)
	return inv
}

// Tokenize stores a card for the customer through the tokens function and returns its token id (the
// existing token of the same card too).
func (c *Client) Tokenize(customerID, number string) string {
	c.T.Helper()
	var tok struct {
		ID string `json:"id"`
	}
	status, body := c.Do("POST", "/v1/tokens", fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2034,"cvc":"123"}}`, customerID, number))
	if status != 201 && status != 200 {
		c.T.Fatalf("tokenize: %d %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		c.T.Fatal(err)
	}
	return tok.ID
}

// BillingStore reads the stack's billing table as stored, with the stack's plain client (no customer
// keys: customers' personal data stays sealed).
func BillingStore(s *devstack.Stack) *billingdb.Store {
	return &billingdb.Store{DB: dynamodb.NewFromConfig(s.Env.AWS), Table: s.Env.Config.BillingTable}
}

// StoredInvoice reads an invoice as stored, with its claim and reservations, or fails the test.
func StoredInvoice(tb testing.TB, s *devstack.Stack, id string) *billing.Invoice {
	tb.Helper()
	inv, err := BillingStore(s).Get(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return inv
}

// Clock is the real time, moved forward by what a test skips (a lease); its Now is a clock.Func.
type Clock struct{ offset atomic.Int64 }

// Now is the real time plus what was skipped.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance skips d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// ExpectProblem checks that the answer (status, body) of the request name is the problem wantStatus
// with code wantCode, and its first field error on wantField when that is not "".
func ExpectProblem(t testing.TB, name string, status int, body string, wantStatus int, wantCode, wantField string) {
	t.Helper()
	p := Decode[Problem](t, body)
	if status != wantStatus || p.Code != wantCode {
		t.Errorf("%s: %d %s, want %d %s", name, status, body, wantStatus, wantCode)
	}
	if wantField != "" && (len(p.Errors) == 0 || p.Errors[0].Field != wantField) {
		t.Errorf("%s: errors %+v, want field %q", name, p.Errors, wantField)
	}
}
