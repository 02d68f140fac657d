package billing_test

import (
	"errors"
	"math"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// bigTax is amount × bps / 10000 rounded half away from zero, in exact arithmetic.
func bigTax(amount, bps int64) *big.Int {
	p := new(big.Int).Mul(big.NewInt(amount), big.NewInt(bps))
	neg := p.Sign() < 0
	p.Abs(p)
	q, r := new(big.Int).QuoRem(p, big.NewInt(billing.BasisPointsDenominator), new(big.Int))
	if r.Mul(r, big.NewInt(2)).Cmp(big.NewInt(billing.BasisPointsDenominator)) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q
}

func fitsInt64(v *big.Int) bool { return v.IsInt64() }

// FuzzTaxOf checks the 128-bit tax computation against math/big for every amount and rate: the
// result is exact, and ErrOverflow exactly when the exact result lies outside int64.
func FuzzTaxOf(f *testing.F) {
	for _, a := range []int64{0, 1, -1, 5, 15, 9999, 10000, math.MaxInt64, math.MinInt64, math.MaxInt64 / 10000} {
		for _, b := range []int64{0, 1, 5000, 10000, -1, math.MaxInt64, math.MinInt64} {
			f.Add(a, b)
		}
	}
	f.Fuzz(func(t *testing.T, amount, bps int64) {
		got, err := billing.TaxOf(amount, bps)
		want := bigTax(amount, bps)
		if !fitsInt64(want) {
			if !errors.Is(err, billing.ErrOverflow) {
				t.Fatalf("TaxOf(%d, %d) = %d, %v; exact %s overflows", amount, bps, got, err, want)
			}
			return
		}
		if err != nil || got != want.Int64() {
			t.Fatalf("TaxOf(%d, %d) = %d, %v; want %s", amount, bps, got, err, want)
		}
	})
}

// FuzzInvoiceInput sends arbitrary POST /v1/invoices bodies through the request decoder and
// NewInvoice. An accepted invoice has a supported currency, and its line amounts, subtotal, tax and
// total equal the sums recomputed in exact arithmetic (so nothing wrapped); a valid request whose
// exact total does not fit in int64 is refused as a 422, never stored with a wrapped amount.
func FuzzInvoiceInput(f *testing.F) {
	for _, s := range []string{
		`{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"EUR","lines":[{"description":"a","quantity":2,"unit_amount":1500,"tax_rate_bps":2000}]}`,
		`{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"JPY","due_date":"2026-12-31","memo":"m","lines":[{"description":"a","quantity":1,"unit_amount":0}]}`,
		`{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"EUR","lines":[{"description":"a","quantity":9223372036854775807,"unit_amount":2}]}`,
		`{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"EUR","lines":[{"description":"a","quantity":1,"unit_amount":9223372036854775807,"tax_rate_bps":1}]}`,
		`{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"EUR","lines":[{"description":"a","quantity":1,"unit_amount":4611686018427387904},{"description":"b","quantity":1,"unit_amount":4611686018427387904}]}`,
		`{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"eur","lines":[{"description":"a","quantity":-1,"unit_amount":-5,"tax_rate_bps":10001}]}`,
		`{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"XXX","lines":[]}`,
		`{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"EUR","lines":[{"description":"a","quantity":1.5,"unit_amount":1}]}`,
		`{"customer_id":"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa","currency":"EUR","lines":[{"description":"a","quantity":1,"unit_amount":9223372036854775808}]}`,
		`{"customer_id":"x","currency":"","lines":null}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var in billing.InvoiceInput
		if err := httpapi.Decode(&events.APIGatewayProxyRequest{Body: string(body)}, &in); err != nil {
			return // FuzzDecode covers the decoder's refusals
		}
		inv, err := billing.NewInvoice("in_aaaaaaaaaaaaaaaaaaaaaaaaaa", in, billing.NewID, now)
		// The exact sums of the lines, when every line is valid.
		sub, tax := new(big.Int), new(big.Int)
		linesOK := len(in.Lines) >= 1 && len(in.Lines) <= billing.MaxLines
		for _, l := range in.Lines {
			if l.Quantity == nil || l.UnitAmount == nil || *l.Quantity < 1 || *l.UnitAmount < 0 {
				linesOK = false
				continue
			}
			var bps int64
			if l.TaxRateBPS != nil {
				bps = *l.TaxRateBPS
			}
			amount := new(big.Int).Mul(big.NewInt(*l.Quantity), big.NewInt(*l.UnitAmount))
			sub.Add(sub, amount)
			if amount.IsInt64() {
				tax.Add(tax, bigTax(amount.Int64(), bps))
			} else {
				tax.Add(tax, big.NewInt(math.MaxInt64)) // the line already overflows
			}
		}
		total := new(big.Int).Add(sub, tax)
		if err != nil {
			if e := problem.From(err); e.Status() != http.StatusUnprocessableEntity && e.Status() != http.StatusBadRequest {
				t.Fatalf("invoice refused with %d: %v", e.Status(), err)
			}
			return
		}
		if !linesOK || !billing.Currency(in.Currency).Valid() {
			t.Fatalf("accepted invoice with invalid lines or currency %q", in.Currency)
		}
		if !total.IsInt64() || inv.Subtotal != sub.Int64() || inv.Tax != tax.Int64() || inv.Total != total.Int64() || inv.AmountDue != inv.Total {
			t.Fatalf("accepted totals subtotal %d tax %d total %d due %d; exact %s %s %s", inv.Subtotal, inv.Tax, inv.Total, inv.AmountDue, sub, tax, total)
		}
		for i, l := range inv.Lines {
			want := new(big.Int).Mul(big.NewInt(l.Quantity), big.NewInt(l.UnitAmount))
			if !want.IsInt64() || l.Amount != want.Int64() || l.Tax != bigTax(l.Amount, l.TaxRateBPS).Int64() {
				t.Fatalf("line %d: amount %d tax %d, exact %s", i, l.Amount, l.Tax, want)
			}
		}
	})
}
