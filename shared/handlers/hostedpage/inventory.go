package hostedpage

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// The inventory of the page's scripts and styles (PCI DSS 6.4.3): each with its hashes and the reason
// it is there, and the page's security headers. The released inventory is embedded in the binary, so
// the scheduled check (11.6.1) compares the live page with what was released, not with itself.
//
//go:embed inventory.json
var releasedInventory []byte

// Inventory is the released description of the page.
type Inventory struct {
	// Page is the route the inventory describes.
	Page string `json:"page"`
	// Headers are the security headers of the page; LinkPlaceholder stands for the link.
	Headers map[string]string `json:"headers"`
	Scripts []Item            `json:"scripts"`
	Styles  []Item            `json:"styles"`
}

// Item is one script or style of the page.
type Item struct {
	// Path is the URL the page loads it from, relative to the page.
	Path   string `json:"path"`
	SHA384 string `json:"sha384"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
	// Purpose says why the page needs it.
	Purpose string `json:"purpose"`
}

// Released is the inventory the binary was built with.
func Released() (Inventory, error) {
	var inv Inventory
	if err := json.Unmarshal(releasedInventory, &inv); err != nil {
		return Inventory{}, fmt.Errorf("hosted page inventory: %w", err)
	}
	return inv, nil
}

// purposes say why each asset is on the page; an asset without one cannot be inventoried.
var purposes = map[string]string{
	"page.js":  "Our only script: client-side card number (Luhn) and expiry hints, then sends the card to the tokens function and pays the invoice with the token. No third-party code.",
	"page.css": "Our only stylesheet: layout, contrast and focus styles. No third-party code.",
}

// Current is the inventory of the assets fsys holds, as the page serves them.
func Current(fsys fs.FS) (Inventory, error) {
	inv := Inventory{Page: "/pay/{link}", Headers: SecurityHeaders(LinkPlaceholder)}
	inv.Headers["Content-Type"] = "text/html; charset=utf-8"
	for _, name := range []string{"page.js", "page.css"} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return Inventory{}, err
		}
		it := Item{Path: "assets/" + name, SHA384: SRI(b), SHA256: SHA256(b), Bytes: len(b), Purpose: purposes[name]}
		if strings.HasSuffix(name, ".js") {
			inv.Scripts = append(inv.Scripts, it)
		} else {
			inv.Styles = append(inv.Styles, it)
		}
	}
	return inv, nil
}

var (
	scriptTag = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	linkTag   = regexp.MustCompile(`(?is)<link\b([^>]*)>`)
	styleTag  = regexp.MustCompile(`(?is)<style\b`)
	attr      = regexp.MustCompile(`(?is)([a-z-]+)\s*=\s*"([^"]*)"`)
)

func attrs(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attr.FindAllStringSubmatch(s, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2])
	}
	return out
}

// Check fetches the page at pageURL and every script and stylesheet it loads, and returns each
// difference from inv: a security header changed or missing, a script or style added, removed or
// changed (its integrity attribute or the bytes served), an inline script or style. No difference
// means the page is what was released. An error means the page could not be checked at all.
func Check(ctx context.Context, client *http.Client, pageURL string, inv Inventory) ([]string, error) {
	base, err := url.Parse(pageURL)
	if err != nil {
		return nil, err
	}
	link := path.Base(base.Path)
	body, header, err := fetch(ctx, client, base.String())
	if err != nil {
		return nil, err
	}
	var diffs []string
	for _, k := range sortedKeys(inv.Headers) {
		want := strings.ReplaceAll(inv.Headers[k], LinkPlaceholder, link)
		if got := header.Get(k); got != want {
			diffs = append(diffs, fmt.Sprintf("header %s is %q, released %q", k, got, want))
		}
	}
	page := string(body)
	served := map[string]map[string]string{} // path → attributes, scripts and stylesheets alike
	for _, m := range scriptTag.FindAllStringSubmatch(page, -1) {
		a := attrs(m[1])
		if a["src"] == "" || strings.TrimSpace(m[2]) != "" {
			diffs = append(diffs, "an inline script is on the page")
			continue
		}
		served["script "+a["src"]] = a
	}
	for _, m := range linkTag.FindAllStringSubmatch(page, -1) {
		if a := attrs(m[1]); strings.EqualFold(a["rel"], "stylesheet") {
			served["style "+a["href"]] = a
		}
	}
	if styleTag.MatchString(page) {
		diffs = append(diffs, "an inline style is on the page")
	}
	released := map[string]Item{}
	for _, it := range inv.Scripts {
		released["script "+it.Path] = it
	}
	for _, it := range inv.Styles {
		released["style "+it.Path] = it
	}
	for _, key := range sortedKeys(served) {
		if _, ok := released[key]; !ok {
			diffs = append(diffs, key+" is on the page but not in the inventory")
		}
	}
	for _, key := range sortedKeys(released) {
		it := released[key]
		a, ok := served[key]
		if !ok {
			diffs = append(diffs, key+" is in the inventory but not on the page")
			continue
		}
		if a["integrity"] != it.SHA384 {
			diffs = append(diffs, fmt.Sprintf("%s has integrity %q, released %q", key, a["integrity"], it.SHA384))
		}
		ref, err := base.Parse(it.Path)
		if err != nil {
			return nil, err
		}
		b, h, err := fetch(ctx, client, ref.String())
		if err != nil {
			return nil, err
		}
		if got := SRI(b); got != it.SHA384 {
			diffs = append(diffs, fmt.Sprintf("%s serves content with hash %s, released %s", key, got, it.SHA384))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			diffs = append(diffs, key+" is served without X-Content-Type-Options: nosniff")
		}
	}
	return diffs, nil
}

func fetch(ctx context.Context, client *http.Client, u string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch the hosted page: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("read the hosted page: %w", err)
	}
	if resp.StatusCode >= 500 {
		return nil, nil, fmt.Errorf("fetch the hosted page: %s", resp.Status)
	}
	return b, resp.Header, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CanaryPath is the page the scheduled check fetches: a link that is never issued (too short to be
// one), so the answer is the refusal page, which has the same headers, script and stylesheet as every
// invoice page and needs no invoice.
const CanaryPath = resources.PageCheckPath

// EnvCheckURL is the page the scheduled check fetches (the API's URL + CanaryPath).
const EnvCheckURL = resources.EnvPageCheckURL

// Checker is the scheduled check of the live page (PCI DSS 11.6.1).
type Checker struct {
	Client *http.Client
	// URL is the page to check, e.g. the API's base URL + CanaryPath.
	URL   string
	Log   *slog.Logger
	Alert *Alerter
}

// Run checks the page once. Any difference raises the alert (an ALERT log line per difference and
// the PageChanged metric) and is returned as an error, so the schedule's own failure alarm fires too.
func (c *Checker) Run(ctx context.Context) ([]string, error) {
	inv, err := Released()
	if err != nil {
		return nil, err
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	diffs, err := Check(ctx, client, c.URL, inv)
	if err != nil {
		return nil, err
	}
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	if len(diffs) == 0 {
		log.Info("hosted page matches its released inventory", "url_path", CanaryPath)
		return nil, nil
	}
	for _, d := range diffs {
		log.Error("ALERT: the hosted invoice page differs from its released inventory", "alert", true, "difference", d)
	}
	c.Alert.metric(MetricPageChanged)
	return diffs, fmt.Errorf("the hosted invoice page differs from its released inventory in %d ways", len(diffs))
}
