package hostedpage_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/local/gateway"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium for the test. Without Chromium the test is skipped locally and
// fails in CI, so the browser tests never silently stop running.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing in CI: .ci/run installs Debian's chromium package", chromiumPath)
		}
		t.Skipf("skipping browser test: %s is missing (apt-get install chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(420, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// recorder keeps every event the gateway hands to the functions other than tokens, to show that the
// card number never reaches them.
type recorder struct {
	mu   sync.Mutex
	seen map[string][]string
}

func record(e *env) *recorder {
	r := &recorder{seen: map[string][]string{}}
	for name, fn := range e.s.Gateway.Functions {
		if name == routes.Tokens {
			continue
		}
		e.s.Gateway.Functions[name] = func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			b, _ := json.Marshal(ev)
			r.mu.Lock()
			r.seen[name] = append(r.seen[name], string(b))
			r.mu.Unlock()
			return fn(ctx, ev)
		}
	}
	return r
}

func (r *recorder) find(number string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var where []string
	for fn, evs := range r.seen {
		for _, ev := range evs {
			if strings.Contains(ev, number) {
				where = append(where, fn)
			}
		}
	}
	return where
}

var _ gateway.Function = nil

// fill types a card into the page's form and submits it.
func fill(number string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(css("#cc-number")),
		chromedp.SendKeys(css("#cc-name"), "Ada Lovelace"),
		chromedp.SendKeys(css("#cc-number"), number),
		chromedp.SendKeys(css("#cc-exp-month"), "12"),
		chromedp.SendKeys(css("#cc-exp-year"), "2030"),
		chromedp.SendKeys(css("#cc-csc"), "123"),
		chromedp.Click(css("button[type=submit]")),
	)
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// The whole page in a real browser: pay, decline, a blocked injected script, refused links, a spent
// link; the card number reaches the tokens function only.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	rec := record(e)
	link := e.link(e.inv.ID)

	// Page weight: every response's bytes on the wire, and the number of requests.
	var mu sync.Mutex
	var requests int
	var bytes int64
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests++
		case *network.EventLoadingFinished:
			bytes += int64(ev.EncodedDataLength)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(e.s.URL+link), chromedp.WaitVisible(css("#cc-number"))); err != nil {
		t.Fatal(err)
	}
	loaded := time.Since(start)
	interactive := eval[float64](t, ctx, `performance.getEntriesByType("navigation")[0].domInteractive`)
	mu.Lock()
	t.Logf("page weight: %d bytes in %d requests; DOM interactive after %.0f ms (form usable %s after navigation)", bytes, requests, interactive, loaded.Round(time.Millisecond))
	if bytes > 30<<10 || requests > 4 {
		t.Errorf("page weight %d bytes in %d requests, over the 30 KB / 4 requests budget", bytes, requests)
	}
	mu.Unlock()
	if dir := os.Getenv("HOSTED_PAGE_SCREENSHOT"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hosted-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The client-side hint: a mistyped number is flagged before anything is sent.
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#cc-number"), "4242424242424241"), chromedp.Focus(css("#cc-exp-month"))); err != nil {
		t.Fatal(err)
	}
	if hint := eval[string](t, ctx, `document.getElementById("cc-number-hint").textContent`); !strings.Contains(hint, "mistyped") {
		t.Errorf("Luhn hint %q", hint)
	}

	t.Run("declined card shows the decline; the invoice stays open", func(t *testing.T) {
		var cus billing.Customer
		e.must(201, "POST", "/v1/customers", `{"name":"Bo","email":"bo@example.com"}`, &cus)
		inv := e.openInvoice(cus.ID)
		if err := chromedp.Do(ctx, chromedp.Navigate(e.s.URL+e.link(inv.ID)), fill(processor.TestDeclined)); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status").textContent.includes("declined")`)); err != nil {
			t.Fatalf("no decline shown: %v (status %q)", err, eval[string](t, ctx, `document.getElementById("status").textContent`))
		}
		e.must(200, "GET", "/v1/invoices/"+inv.ID, "", &inv)
		if inv.Status != billing.Open {
			t.Errorf("invoice is %s after a decline", inv.Status)
		}
	})

	t.Run("an injected inline script is blocked and reported", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(e.s.URL+link), chromedp.WaitVisible(css("#cc-number"))); err != nil {
			t.Fatal(err)
		}
		if eval[bool](t, ctx, `(() => { const s = document.createElement("script"); s.textContent = "window.injected = true"; document.body.appendChild(s); return window.injected === true; })()`) {
			t.Fatal("the injected inline script ran")
		}
		deadline := time.Now().Add(20 * time.Second)
		for !e.hasViolationRecord() {
			if time.Now().After(deadline) {
				t.Fatal("the CSP violation report never reached the audit trail")
			}
			time.Sleep(100 * time.Millisecond) // the browser sends reports in the background
		}
	})

	t.Run("pay: the paid state, and the invoice is paid", func(t *testing.T) {
		// Paid, or an error the page shows: a failure is reported with the page's words at once,
		// rather than as the whole test's deadline.
		if err := chromedp.Do(ctx, chromedp.Navigate(e.s.URL+link), fill("4242 4242 4242 4242")); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!document.getElementById("paid").hidden || document.getElementById("status").classList.contains("error")`)); err != nil {
			t.Fatal(err)
		}
		if eval[bool](t, ctx, `document.getElementById("paid").hidden`) {
			t.Fatalf("not paid: the page says %q", eval[string](t, ctx, `document.getElementById("status").textContent`))
		}
		var inv billing.Invoice
		e.must(200, "GET", "/v1/invoices/"+e.inv.ID, "", &inv)
		if inv.Status != billing.Paid {
			t.Fatalf("invoice is %s after paying in the browser", inv.Status)
		}
	})

	t.Run("a spent link no longer offers payment", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(e.s.URL+link), chromedp.WaitVisible(css("#paid"))); err != nil {
			t.Fatal(err)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#pay, input").length`); n != 0 {
			t.Errorf("the spent link's page has %d form elements", n)
		}
	})

	t.Run("a forged link is refused", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(e.s.URL+"/pay/"+strings.Repeat("x", 43))); err != nil {
			t.Fatal(err)
		}
		if text := eval[string](t, ctx, `document.querySelector("main").innerText`); !strings.Contains(text, "not valid") || strings.Contains(text, "Pay by card") {
			t.Errorf("forged link page: %q", text)
		}
	})

	for _, number := range []string{"4242424242424242", processor.TestDeclined} {
		if where := rec.find(number); len(where) > 0 {
			t.Errorf("card number %s reached %v, not only the tokens function", number, where)
		}
	}
	if found := stacktest.CardNumbersAtRest(t, e.s); len(found) > 0 {
		t.Errorf("card numbers at rest: %v", found)
	}
}

func (e *env) hasViolationRecord() bool {
	for _, rec := range e.auditItems() {
		if strings.Contains(rec, "ReportHostedPageViolation") && strings.Contains(rec, "script-src") {
			return true
		}
	}
	return false
}
