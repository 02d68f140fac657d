package hostedpage

import (
	"html"
	"strconv"
	"strings"
)

// render writes the page of v. It is written in Go rather than with html/template: text/template
// evaluates fields through reflect.Value.MethodByName, which obliges the linker to keep every
// exported method of every type in the binary, and that alone made the hosted-page function 3.4 MiB
// larger. Every value passes through html.EscapeString, which escapes <, >, &, ' and ": that is
// enough here because each value lands in element text or inside a double-quoted attribute, never in
// a script, a style or a URL.
func render(v view) string {
	var b strings.Builder
	w := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
	}
	e := html.EscapeString
	w(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>`, e(v.Title), ` · `, e(v.Business), `</title>
<link rel="icon" href="assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="assets/page.css" integrity="`, e(v.CSSIntegrity), `">
<script src="assets/page.js" integrity="`, e(v.JSIntegrity), `" defer></script>
</head>
<body>
<main>
<section class="card" aria-labelledby="title">
<p class="biz">`, e(v.Business), `</p>
<h1 id="title">`, e(v.Title), `</h1>`)
	if iv := v.Invoice; iv != nil {
		if iv.Due != "" {
			w(`<p>Due `, e(iv.Due), `</p>`)
		}
		w(`
<table>
<caption class="biz">Invoice lines</caption>
<thead><tr><th scope="col">Description</th><th scope="col" class="num">Qty</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody>`)
		for _, l := range iv.Lines {
			w("\n<tr><td>", e(l.Description), `</td><td class="num">`, strconv.FormatInt(l.Quantity, 10),
				`</td><td class="num">`, e(l.Amount), `</td></tr>`)
		}
		w(`
</tbody>
</table>
<dl>
<dt>Subtotal</dt><dd>`, e(iv.Subtotal), `</dd>
<dt>Tax</dt><dd>`, e(iv.Tax), `</dd>
<dt>Total</dt><dd>`, e(iv.Total), `</dd>`)
		if iv.Credited != "" {
			w(`<dt>Credited</dt><dd>`, e(iv.Credited), `</dd>`)
		}
		if iv.Paid != "" {
			w(`<dt>Paid</dt><dd>`, e(iv.Paid), `</dd>`)
		}
		w(`
<dt class="due">Amount due</dt><dd class="due">`, e(iv.AmountDue), `</dd>
</dl>`)
	}
	w("\n</section>")
	if v.Notice != "" {
		w("\n", `<section class="card notice" role="alert"><h2>`, e(v.Notice), `</h2>`)
		if v.NoticeDetail != "" {
			w(`<p>`, e(v.NoticeDetail), `</p>`)
		}
		w(`</section>`)
	}
	if v.Payable && v.Invoice != nil {
		w("\n", `<form id="pay" class="card" novalidate data-customer="`, e(v.CustomerID), `" aria-labelledby="pay-title">`, payForm,
			`<button type="submit">Pay `, e(v.Invoice.AmountDue), `</button>
<p id="status" class="status" role="status" aria-live="polite"></p>
</form>`)
	}
	hidden := " hidden"
	if v.ShowPaid {
		hidden = ""
	}
	w("\n", `<section id="paid" class="card paid" tabindex="-1"`, hidden, `>
<h2>Paid</h2>
<p>Thank you: this invoice is paid. You can close this page.</p>
</section>
</main>
</body>
</html>
`)
	return b.String()
}

// payForm is the card form's fields: static markup, the same on every page.
const payForm = `
<h2 id="pay-title">Pay by card</h2>
<label for="cc-name">Name on card</label>
<input id="cc-name" name="cc-name" autocomplete="cc-name" autocapitalize="words" spellcheck="false">
<label for="cc-number">Card number</label>
<input id="cc-number" name="cc-number" autocomplete="cc-number" inputmode="numeric" spellcheck="false" required aria-describedby="cc-number-hint">
<p id="cc-number-hint" class="hint" aria-live="polite"></p>
<fieldset aria-describedby="cc-exp-year-hint">
<legend>Expiry date</legend>
<div class="row">
<div><label for="cc-exp-month">Month (MM)</label><input id="cc-exp-month" name="cc-exp-month" autocomplete="cc-exp-month" inputmode="numeric" maxlength="2" required></div>
<div><label for="cc-exp-year">Year (YYYY)</label><input id="cc-exp-year" name="cc-exp-year" autocomplete="cc-exp-year" inputmode="numeric" maxlength="4" required></div>
</div>
<p id="cc-exp-year-hint" class="hint" aria-live="polite"></p>
</fieldset>
<label for="cc-csc">Security code</label>
<input id="cc-csc" name="cc-csc" autocomplete="cc-csc" inputmode="numeric" maxlength="4" required aria-describedby="cc-csc-hint">
<p id="cc-csc-hint" class="hint" aria-live="polite"></p>
`
