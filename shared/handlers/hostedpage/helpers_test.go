package hostedpage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/hostedlink"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/hostedpage"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// env is a local stack with a billing clerk and an open invoice of 2 × 19.99 EUR at 19% tax.
type env struct {
	t       testing.TB
	s       *devstack.Stack
	billing string
	inv     billing.Invoice
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s := stacktest.New(t)
	e := &env{t: t, s: s, billing: stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "clerk"})}
	var cus billing.Customer
	e.must(201, "POST", "/v1/customers", `{"name":"Ada Lovelace","email":"ada@example.com"}`, &cus)
	e.inv = e.openInvoice(cus.ID)
	return e
}

func (e *env) openInvoice(customerID string) billing.Invoice {
	var inv billing.Invoice
	e.must(201, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","due_date":"2027-01-31","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900}]}`, customerID), &inv)
	e.must(200, "POST", "/v1/invoices/"+inv.ID+"/finalize", "", &inv)
	return inv
}

func (e *env) must(want int, method, path, body string, out any) {
	e.t.Helper()
	resp, b := stacktest.Do(e.t, e.s, method, path, e.billing, body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d, want %d; body %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			e.t.Fatal(err)
		}
	}
}

// link makes a link to the invoice and returns its path (/pay/<secret>).
func (e *env) link(invoiceID string) string {
	e.t.Helper()
	var l hostedpage.LinkResponse
	e.must(201, "POST", "/v1/invoices/"+invoiceID+"/link", "", &l)
	if !strings.HasPrefix(l.URL, e.s.URL+"/pay/") {
		e.t.Fatalf("link url %q is not under %s/pay/", l.URL, e.s.URL)
	}
	return strings.TrimPrefix(l.URL, e.s.URL)
}

// get fetches a path of the page without a token, as a browser does.
func (e *env) get(path string) (*http.Response, string) {
	e.t.Helper()
	resp, err := http.Get(e.s.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// auditItems returns every audit record in the outbox table as its raw JSON-ish attribute text.
func (e *env) auditItems() []string {
	e.t.Helper()
	db := dynamodb.NewFromConfig(e.s.Env.AWS)
	var out []string
	in := &dynamodb.ScanInput{TableName: aws.String(e.s.Env.Config.AuditTable), ConsistentRead: aws.Bool(true)}
	for {
		page, err := db.Scan(context.Background(), in)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, item := range page.Items {
			var b strings.Builder
			for k, v := range item {
				if s, ok := v.(*types.AttributeValueMemberS); ok {
					fmt.Fprintf(&b, "%s=%s\n", k, s.Value)
				}
			}
			out = append(out, b.String())
		}
		if page.LastEvaluatedKey == nil {
			return out
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func devstackSpec(role, customerID string) devstack.TokenSpec {
	return devstack.TokenSpec{Role: role, CustomerID: customerID, Subject: role + "-" + customerID}
}

// tamperedAssets is a copy of the page's assets with extra appended to one file.
func tamperedAssets(t testing.TB, name, extra string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(hostedpage.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(hostedpage.Assets, p)
		if p == name {
			b = append(b, extra...)
		}
		out[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// replacePage rewires the stack's hosted-page function to serve assets.
func (e *env) replacePage(assets fs.FS) {
	e.t.Helper()
	svc, err := wiring.Service(e.s.Env, routes.HostedPage)
	if err != nil {
		e.t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(e.s.Env.AWS)
	p := &hostedpage.Page{
		Business: "Vaultbill", Assets: assets, Alert: &hostedpage.Alerter{},
		Invoices: &billingdb.Store{DB: db, Table: e.s.Env.Config.BillingTable},
		Links:    &hostedlink.Store{DB: db, Table: e.s.Env.Config.BillingTable},
	}
	p.Routes(svc)
	e.s.Gateway.Functions[routes.HostedPage] = svc.Serve
}

func stacktestLogger(t testing.TB) *slog.Logger { return stacktest.Logger(t) }

func logsText() string { return stacktest.Logs.String() }
