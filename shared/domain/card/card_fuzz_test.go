package card

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/api/logging"
)

// FuzzValidate checks card validation: an accepted card has a digits-only number that passes Luhn
// with a length its brand's table allows, a month from 1 to 12, a year not past and a CVC of the
// brand's length; a refusal never repeats the number, and a card number never appears in any error.
func FuzzValidate(f *testing.F) {
	for _, n := range []string{
		"4242424242424242", "4111111111111111", "378282246310005", "5555555555554444", "2223003122003222",
		"6011111111111117", "3530111333300000", "36227206271667", "6200000000000005", "4000000000000",
		"4111111111111112", "4111 1111 1111 1111", "4111-1111-1111-1111", "", "0", "37828224631000",
		"41111111111111111111", "\uff14111111111111111", "4111111111111111\x00", "9999999999999995",
	} {
		f.Add(n, 12, 2030, "123", "Ada Lovelace")
	}
	f.Add("378282246310005", 1, 2027, "1234", "")
	f.Add("4242424242424242", 13, 2030, "12", "x")
	f.Add("4242424242424242", 12, 2025, "abc", strings.Repeat("é", 201))
	f.Add("4242424242424242", 0, 99999, "4111111111111111", "4111111111111111")
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, number string, month, year int, cvc, name string) {
		in := Input{Number: NewPAN([]byte(number)), ExpMonth: month, ExpYear: year, CVC: cvc, Name: name}
		c, err := Validate(in, now, "card.")
		if err != nil {
			b, _ := json.Marshal(err)
			text := err.Error() + string(b)
			if logging.ContainsPAN(strings.ReplaceAll(text, "card.", "")) && !logging.ContainsPAN(cvc+name) {
				t.Fatalf("refusal holds a card number: %s", text)
			}
			if len(number) >= 4 && strings.Trim(number, "0123456789") == "" && strings.Contains(text, number) {
				t.Fatalf("refusal repeats the number %q: %s", number, text)
			}
			return
		}
		digits := []byte(number)
		if len(digits) == 0 || strings.Trim(number, "0123456789") != "" || !Luhn(digits) {
			t.Fatalf("accepted %q: not digits or fails Luhn", number)
		}
		rule, ok := ruleFor(digits)
		if !ok || rule.brand != c.Brand || BrandOf(digits) != c.Brand || !slices.Contains(rule.lengths, len(digits)) {
			t.Fatalf("accepted %q as %s, outside the brand table", number, c.Brand)
		}
		if month < 1 || month > 12 || year < now.Year() || (year == now.Year() && month < int(now.Month())) {
			t.Fatalf("accepted expiry %02d/%d at %s", month, year, now)
		}
		if cvc != "" && len(cvc) != c.Brand.CVCLength() {
			t.Fatalf("accepted a %d-digit CVC for %s", len(cvc), c.Brand)
		}
		if s := c.String() + c.GoString() + in.Number.String(); strings.Contains(s, number) {
			t.Fatalf("accepted card prints its number: %s", s)
		}
		if c.Number.Last4() != number[len(number)-4:] {
			t.Fatalf("Last4 of %q = %q", number, c.Number.Last4())
		}
	})
}
