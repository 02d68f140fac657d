// Package costrun measures on the local stack what each API route and each scheduled job uses (the
// units shared/ops/cost prices): it drives the routes through the local gateway with every function's
// AWS clients counted, its invocations timed and its log output weighed.
package costrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/cost"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
)

// PlatformLogBytes is what Lambda itself writes to CloudWatch Logs per invocation (the START, END and
// REPORT lines), added to what the function logs.
const PlatformLogBytes = 260

// Options configure a measurement.
type Options struct {
	// Endpoint is the AWS emulator's.
	Endpoint string
	// StateDir keeps the local stack's signing key.
	StateDir string
	// Runs is how many times each route is measured (default 3); the report averages them.
	Runs int
}

// Measured is what one route or job used over Runs calls or runs.
type Measured struct {
	// Name is the route's operation ("FinalizeInvoice") or the job's function ("audit-digest").
	Name     string
	Function string
	Runs     int64
	Usage    cost.Usage
	// Calls are the AWS operations made, "Service Operation" → count, over all runs.
	Calls map[string]int
}

// Report is a whole measurement.
type Report struct {
	Routes []Measured
	Jobs   []Measured
	// AuthorizerCacheSeconds is the deployed authorizer cache TTL the figures assume.
	AuthorizerCacheSeconds float64
	// ShippedPerRequest is the audit records the shipper delivered per API request.
	ShippedPerRequest float64
}

// meter is the counters of one measurement.
type meter struct {
	mu       sync.Mutex
	calls    []*stacktest.Calls
	capacity *capacity
	logBytes atomic.Int64
	// invocations and mbms are the Lambda invocations and MB-milliseconds since the last take.
	invocations atomic.Int64
	mbms        atomic.Int64
}

func (m *meter) Write(p []byte) (int, error) {
	m.logBytes.Add(int64(len(p)))
	return len(p), nil
}

// memoryMB is each function's configured memory (infra/stacks.Functions).
func memoryMB() map[string]int64 {
	out := map[string]int64{}
	for _, f := range stacks.Functions {
		out[f.Name] = int64(f.MemoryMB)
	}
	return out
}

// timed counts one invocation of a function of memory mb that ran from start until now.
func (m *meter) timed(mb int64, start time.Time) {
	m.invocations.Add(1)
	m.mbms.Add(cost.BilledMs(time.Since(start).Nanoseconds()) * mb)
}

// take returns what was used since the last take.
func (m *meter) take() (cost.Usage, map[string]int) {
	calls := map[string]int{}
	m.mu.Lock()
	for _, c := range m.calls {
		for k, n := range c.Take() {
			calls[k] += n
		}
	}
	m.mu.Unlock()
	u := cost.Usage{LambdaInvocations: m.invocations.Swap(0), LambdaMBms: m.mbms.Swap(0), LogBytes: m.logBytes.Swap(0)}
	u.LogBytes += u.LambdaInvocations * PlatformLogBytes
	u.DynamoDBWriteUnits, u.DynamoDBReadHalfUnits = m.capacity.take()
	for k, n := range calls {
		service, op, _ := strings.Cut(k, " ")
		switch service {
		case "KMS":
			u.KMSRequests += int64(n)
		case "S3":
			// S3 bills PUT, COPY, POST and LIST at the write rate, everything else at the read rate.
			if strings.HasPrefix(op, "Put") || strings.HasPrefix(op, "Copy") || strings.HasPrefix(op, "List") ||
				strings.HasPrefix(op, "Create") || strings.HasPrefix(op, "Complete") || op == "UploadPart" || op == "DeleteObjects" {
				u.S3WriteRequests += int64(n)
			} else {
				u.S3ReadRequests += int64(n)
			}
		}
	}
	return u, calls
}

// Run measures every route of the scenario and the scheduled jobs on a fresh local stack.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Runs <= 0 {
		o.Runs = 3
	}
	m := &meter{}
	mem := memoryMB()
	s, err := devstack.Start(ctx, devstack.Options{
		Endpoint: o.Endpoint, StateDir: o.StateDir,
		Names:   resources.Names{Prefix: stacktest.UniquePrefix()},
		Log:     slog.New(slog.NewJSONHandler(m, nil)),
		Metrics: m, AuditPoll: -1,
		FunctionAWS: func(fn string, cfg aws.Config) aws.Config {
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.capacity == nil {
				m.capacity = &capacity{raw: dynamodb.NewFromConfig(cfg)}
			}
			cfg, calls := stacktest.CountCalls(m.capacity.instrument(cfg))
			m.calls = append(m.calls, calls)
			return cfg
		},
	})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	authz := s.Gateway.Authorizer
	s.Gateway.Authorizer = func(ctx context.Context, r events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		defer m.timed(mem["authorizer"], time.Now())
		return authz(ctx, r)
	}
	for fn, h := range s.Gateway.Functions {
		s.Gateway.Functions[fn] = func(ctx context.Context, r events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			defer m.timed(mem[fn], time.Now())
			return h(ctx, r)
		}
	}
	m.take() // provisioning and wiring are not a request's

	rep := &Report{AuthorizerCacheSeconds: stacks.AuthorizerCacheSeconds}
	byName := map[string]*Measured{}
	sc := &scenario{s: s}
	var requests int64
	for run := range o.Runs {
		for _, st := range sc.steps(run) {
			route, status, body, err := sc.do(st)
			if err != nil {
				return nil, err
			}
			st.name, st.function = route.Operation, route.Function
			u, calls := m.take()
			if status != st.want {
				return nil, fmt.Errorf("%s: status %d, want %d: %s", st.name, status, st.want, body)
			}
			if st.after != nil {
				if err := st.after(body); err != nil {
					return nil, fmt.Errorf("%s: %w", st.name, err)
				}
			}
			u.APIRequests, u.WAFRequests = 1, 1
			requests++
			ms := byName[st.name]
			if ms == nil {
				ms = &Measured{Name: st.name, Function: st.function, Calls: map[string]int{}}
				byName[st.name] = ms
				rep.Routes = append(rep.Routes, Measured{Name: st.name})
			}
			ms.Runs++
			ms.Usage = ms.Usage.Add(u)
			for k, n := range calls {
				ms.Calls[k] += n
			}
		}
	}
	for i := range rep.Routes {
		rep.Routes[i] = *byName[rep.Routes[i].Name]
	}
	jobs, shipped, err := runJobs(ctx, s, m, mem)
	if err != nil {
		return nil, err
	}
	rep.Jobs = jobs
	rep.ShippedPerRequest = float64(shipped) / float64(requests)
	return rep, nil
}

// runJobs runs each scheduled function once over what the routes left, as its trigger would.
func runJobs(ctx context.Context, s *devstack.Stack, m *meter, mem map[string]int64) ([]Measured, int, error) {
	var shipped int
	b, err := backupwiring.New(s.FunctionEnv("backup"), backup.BackupPrincipal)
	if err != nil {
		return nil, 0, err
	}
	rt, err := backupwiring.NewRestoreTest(s.FunctionEnv("restore-test"), backup.RestoreTestPrincipal)
	if err != nil {
		return nil, 0, err
	}
	// The backup runner writes its metrics to standard output, as in Lambda; here they are weighed.
	b.Metrics, rt.Metrics = m, m
	var out []Measured
	for _, j := range []struct {
		fn  string
		run func(context.Context) error
	}{
		{"audit-shipper", func(ctx context.Context) (err error) { shipped, err = s.Audit.ShipNow(ctx); return err }},
		{"audit-digest", func(ctx context.Context) error { _, err := s.Audit.DigestNow(ctx); return err }},
		{"backup", func(ctx context.Context) error { _, err := b.Backup(ctx); return err }},
		{"restore-test", func(ctx context.Context) error { _, err := rt.RestoreTest(ctx); return err }},
	} {
		start := time.Now()
		if err := j.run(ctx); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", j.fn, err)
		}
		m.timed(mem[j.fn], start)
		u, calls := m.take()
		out = append(out, Measured{Name: j.fn, Function: j.fn, Runs: 1, Usage: u, Calls: calls})
	}
	return out, shipped, nil
}

// step is one request of the scenario; the route table names its operation and function.
type step struct {
	method, path string
	token, body  string
	want         int
	// after reads what later steps need from the response.
	after func(body string) error
	// name and function are the route's operation and function, once matched.
	name, function string
}

// scenario is a customer's life in the API: created, invoiced, paid through the hosted page's
// route and the API, credited, and audited.
type scenario struct {
	s                          *devstack.Stack
	customer, invoice, payment string
	link, card                 string
	// seq numbers the idempotency keys.
	seq int
}

// token mints a token for role whose subject is shaped like a Cognito sub (a UUID), as in AWS: the
// subject is repeated in every audit record, so its length moves records across DynamoDB's 1 KB
// write unit.
func (sc *scenario) token(role string) string {
	sub := fmt.Sprintf("%08x-0000-4000-8000-%012x", len(role), len(role)*7919)
	t, _ := sc.s.Token(devstack.TokenSpec{Role: role, Subject: sub})
	return t
}

func idInto(dst *string) func(string) error {
	return func(body string) error {
		var v struct {
			ID  string `json:"id"`
			URL string `json:"url"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return err
		}
		*dst = v.ID
		if v.URL != "" {
			*dst = v.URL
		}
		return nil
	}
}

func (sc *scenario) steps(run int) []step {
	billing, payments, auditor, admin := sc.token("billing"), sc.token("payments"), sc.token("auditor"), sc.token("admin")
	return []step{
		{method: "GET", path: "/v1/me", token: billing, want: 200},
		{method: "POST", path: "/v1/customers", token: billing, want: 201,
			body: fmt.Sprintf(`{"name":"Customer %d","email":"billing%d@example.com"}`, run, run), after: idInto(&sc.customer)},
		{method: "GET", path: "/v1/customers/{customer}", token: billing, want: 200},
		{method: "GET", path: "/v1/customers", token: billing, want: 200},
		{method: "POST", path: "/v1/invoices", token: billing, want: 201,
			body:  `{"customer_id":"{customer}","currency":"EUR","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900},{"description":"Support","quantity":1,"unit_amount":5000,"tax_rate_bps":1900}]}`,
			after: idInto(&sc.invoice)},
		{method: "GET", path: "/v1/invoices/{invoice}", token: billing, want: 200},
		{method: "GET", path: "/v1/invoices", token: billing, want: 200},
		{method: "POST", path: "/v1/invoices/{invoice}/finalize", token: billing, want: 200},
		{method: "POST", path: "/v1/invoices/{invoice}/link", token: billing, want: 201, after: idInto(&sc.link)},
		{method: "GET", path: "{link}", want: 200},
		{method: "POST", path: "/v1/tokens", token: payments, want: 201,
			body: `{"customer_id":"{customer}","card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123"}}`, after: idInto(&sc.card)},
		{method: "GET", path: "/v1/tokens/{card}", token: payments, want: 200},
		{method: "POST", path: "/v1/invoices/{invoice}/pay", token: payments, want: 200,
			body: `{"token":"{card}"}`},
		{method: "GET", path: "/v1/payments?invoice_id={invoice}", token: billing, want: 200},
		{method: "POST", path: "/v1/invoices/{invoice}/credit-notes", token: admin, want: 201,
			body: `{"amount":1000,"reason":"order_change"}`},
		{method: "GET", path: "/v1/audit-events", token: auditor, want: 200},
	}
}

// do sends st through the gateway in process, as API Gateway would call the functions, and returns
// the route it matched.
func (sc *scenario) do(st step) (routes.Route, int, string, error) {
	fill := strings.NewReplacer("{customer}", sc.customer, "{invoice}", sc.invoice, "{card}", sc.card, "{link}", pathOf(sc.link))
	path, body := fill.Replace(st.path), fill.Replace(st.body)
	route, _, ok := routes.Match(st.method, strings.SplitN(path, "?", 2)[0])
	if !ok {
		return route, 0, "", fmt.Errorf("%s %s is no route", st.method, path)
	}
	req := httptest.NewRequest(st.method, "http://127.0.0.1"+path, bytes.NewReader([]byte(body)))
	if st.token != "" {
		req.Header.Set("Authorization", "Bearer "+st.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if st.method == http.MethodPost {
		sc.seq++
		req.Header.Set("Idempotency-Key", fmt.Sprintf("cost-%s-%d", route.Operation, sc.seq))
	}
	rec := httptest.NewRecorder()
	sc.s.Gateway.ServeHTTP(rec, req)
	b, err := io.ReadAll(rec.Result().Body)
	return route, rec.Code, string(b), err
}

// pathOf is the path of a link URL ("http://host/pay/abc" → "/pay/abc").
func pathOf(u string) string {
	if i := strings.Index(u, "/pay/"); i >= 0 {
		return u[i:]
	}
	return u
}
