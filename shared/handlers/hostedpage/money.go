package hostedpage

import (
	"strconv"
	"strings"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
)

// FormatMoney writes an amount in minor units for people: the currency code, then the amount with
// thousands separators and as many decimals as the currency's exponent (JPY 1,200; EUR 12.00; KWD 1.500).
func FormatMoney(amount int64, c billing.Currency) string {
	exp, ok := billing.Exponent(c)
	if !ok {
		exp = 2
	}
	neg := amount < 0
	u := uint64(amount)
	if neg {
		u = uint64(-(amount + 1)) + 1 // no overflow at math.MinInt64
	}
	digits := strconv.FormatUint(u, 10)
	for len(digits) <= exp {
		digits = "0" + digits
	}
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if exp > 0 {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return strings.ToUpper(string(c)) + " " + out
}
