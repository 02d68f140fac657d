package hostedpage

import (
	"strings"
	"testing"
)

// TestRenderEscapesEveryValue: whatever a customer or an operator typed (a line description, the
// business name, a customer id) is shown as text and can never add markup or break out of an
// attribute; the page's CSP would also refuse an injected script, this is the first line.
func TestRenderEscapesEveryValue(t *testing.T) {
	evil := `"><script>alert(1)</script><a href='x'>&`
	v := view{
		Business: evil, Title: evil, CSSIntegrity: evil, JSIntegrity: evil, CustomerID: evil,
		Notice: evil, NoticeDetail: evil, Payable: true,
		Invoice: &invoiceView{Due: evil, Lines: []lineView{{Description: evil, Quantity: 3, Amount: evil}},
			Subtotal: evil, Tax: evil, Total: evil, Credited: evil, Paid: evil, AmountDue: evil},
	}
	page := render(v)
	for _, bad := range []string{"<script>alert", `"><script`, "<a href", "'x'"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q unescaped:\n%s", bad, page)
		}
	}
	const escaped = "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=&#39;x&#39;&gt;&amp;"
	// Title twice, business twice, two integrities, due, description, amount, subtotal, tax, total,
	// credited, paid, the amount due twice (table and button), customer id, notice and detail.
	if got, want := strings.Count(page, escaped), 19; got != want {
		t.Errorf("%d values shown escaped, want %d:\n%s", got, want, page)
	}
}

// TestRenderShowsWhatTheInvoiceState: an open invoice has the card form and a hidden "paid" panel,
// a paid one shows the panel and no form, and a closed one a notice and no form.
func TestRenderShowsWhatTheInvoiceState(t *testing.T) {
	iv := &invoiceView{Lines: []lineView{{Description: "Hosting", Quantity: 2, Amount: "€10.00"}}, AmountDue: "€20.00"}
	open := render(view{Title: "Invoice INV-1", Invoice: iv, Payable: true})
	for _, want := range []string{`<form id="pay"`, "Pay €20.00", `<td>Hosting</td><td class="num">2</td>`, `tabindex="-1" hidden>`} {
		if !strings.Contains(open, want) {
			t.Errorf("open invoice page lacks %q:\n%s", want, open)
		}
	}
	paid := render(view{Title: "Invoice INV-1", Invoice: iv, ShowPaid: true})
	if strings.Contains(paid, `<form`) || !strings.Contains(paid, `tabindex="-1">`) {
		t.Errorf("paid invoice page shows the form or hides the paid panel:\n%s", paid)
	}
	closed := render(view{Title: "Invoice INV-1", Invoice: iv, Notice: "This invoice is no longer open for payment."})
	if strings.Contains(closed, `<form`) || !strings.Contains(closed, `role="alert"><h2>This invoice is no longer open for payment.</h2></section>`) {
		t.Errorf("closed invoice page shows the form or no notice:\n%s", closed)
	}
}
