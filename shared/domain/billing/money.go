// Package billing owns the invoicing domain: money in integer minor units, customers, invoices and
// their lines, the invoice state machine, totals and input validation. It knows nothing of AWS.
package billing

import (
	"errors"
	"math"
	"math/bits"
)

// Currency is an upper-case ISO 4217 alphabetic code such as "EUR".
type Currency string

// exponents maps every active ISO 4217 currency to its number of minor-unit digits. Currencies not
// listed in zeroDecimal or threeDecimal have two.
var exponents = func() map[Currency]int {
	m := map[Currency]int{}
	for _, c := range twoDecimal {
		m[c] = 2
	}
	for _, c := range zeroDecimal {
		m[c] = 0
	}
	for _, c := range threeDecimal {
		m[c] = 3
	}
	return m
}()

var zeroDecimal = []Currency{
	"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
	"XAF", "XOF", "XPF",
}

var threeDecimal = []Currency{"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}

var twoDecimal = []Currency{
	"AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
	"BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP",
	"CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
	"GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR",
	"JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL",
	"MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN",
	"NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB",
	"SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
	"SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES",
	"WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
}

// Exponent returns the number of minor-unit digits of c (JPY 0, KWD 3, EUR 2); ok is false for a code
// that is not an active ISO 4217 currency.
func Exponent(c Currency) (exp int, ok bool) {
	exp, ok = exponents[c]
	return exp, ok
}

// Valid reports whether c is a known currency code (upper case, as the API requires).
func (c Currency) Valid() bool { _, ok := exponents[c]; return ok }

// ErrOverflow is returned when an amount does not fit in int64 minor units. It is a client error (the
// request's amounts are too large), never a silent wrap.
var ErrOverflow = errors.New("amount exceeds the int64 range of minor units")

// mul returns a×b or ErrOverflow.
func mul(a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	c := a * b
	if c/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, ErrOverflow
	}
	return c, nil
}

// add returns a+b or ErrOverflow.
func add(a, b int64) (int64, error) {
	c := a + b
	if (c > a) != (b > 0) {
		return 0, ErrOverflow
	}
	return c, nil
}

// BasisPointsDenominator is 100% in basis points.
const BasisPointsDenominator = 10000

// TaxOf returns amount × bps / 10000 rounded half away from zero. The product is computed in 128 bits,
// so a large amount with a large rate is exact rather than wrapped; only a result outside int64 is
// ErrOverflow.
func TaxOf(amount, bps int64) (int64, error) {
	if amount == 0 || bps == 0 {
		return 0, nil
	}
	neg := (amount < 0) != (bps < 0)
	hi, lo := bits.Mul64(absU(amount), absU(bps))
	if hi >= BasisPointsDenominator {
		return 0, ErrOverflow
	}
	q, r := bits.Div64(hi, lo, BasisPointsDenominator)
	if 2*r >= BasisPointsDenominator { // half away from zero: .5 rounds up in magnitude
		q++
	}
	if neg {
		if q > 1<<63 {
			return 0, ErrOverflow
		}
		return int64(-q), nil // two's complement: exact down to MinInt64
	}
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	return int64(q), nil
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1 // exact for MinInt64
	}
	return uint64(v)
}
