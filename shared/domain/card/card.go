package card

import (
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Brand is a card network.
type Brand string

// The brands recognised by prefix and length.
const (
	Visa       Brand = "visa"
	Mastercard Brand = "mastercard"
	Amex       Brand = "amex"
	Discover   Brand = "discover"
	JCB        Brand = "jcb"
	Diners     Brand = "diners"
	UnionPay   Brand = "unionpay"
)

// CVCLength is the length of the brand's security code: 4 for American Express, 3 for the others.
func (b Brand) CVCLength() int {
	if b == Amex {
		return 4
	}
	return 3
}

// prefixRange is a range of leading digits: every number whose first len(lo) digits lie in [lo, hi].
type prefixRange struct{ lo, hi string }

type brandRule struct {
	brand    Brand
	prefixes []prefixRange
	lengths  []int
}

// rules are checked in order; more specific prefixes come first (Discover's 622126-622925 before
// UnionPay's 62).
var rules = []brandRule{
	{Amex, []prefixRange{{"34", "34"}, {"37", "37"}}, []int{15}},
	{Visa, []prefixRange{{"4", "4"}}, []int{13, 16, 19}},
	{Mastercard, []prefixRange{{"51", "55"}, {"2221", "2720"}}, []int{16}},
	{Discover, []prefixRange{{"6011", "6011"}, {"644", "649"}, {"65", "65"}, {"622126", "622925"}}, []int{16, 17, 18, 19}},
	{UnionPay, []prefixRange{{"62", "62"}, {"81", "81"}}, []int{16, 17, 18, 19}},
	{JCB, []prefixRange{{"3528", "3589"}}, []int{16, 17, 18, 19}},
	{Diners, []prefixRange{{"300", "305"}, {"3095", "3095"}, {"36", "36"}, {"38", "39"}}, []int{14, 15, 16, 17, 18, 19}},
}

// Input is a card as a client sends it in POST /v1/tokens.
type Input struct {
	Number   PAN    `json:"number"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
	CVC      string `json:"cvc,omitempty"`
	Name     string `json:"name,omitempty"`
}

// LogValue keeps the security code and the name out of logs, whatever logger is used.
func (in Input) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("exp_month", in.ExpMonth), slog.Int("exp_year", in.ExpYear))
}

// Card is a validated card. It holds no security code: Validate checks it and drops it.
type Card struct {
	Number   PAN
	Brand    Brand
	ExpMonth int
	ExpYear  int
	// Name is the cardholder name, personal data kept only inside the sealed payload.
	Name string
}

// Zero overwrites the card number. Call it with defer as soon as a revealed card is obtained.
func (c *Card) Zero() { c.Number.Zero() }

// LogValue logs the brand and expiry only.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(slog.String("brand", string(c.Brand)), slog.Int("exp_month", c.ExpMonth), slog.Int("exp_year", c.ExpYear))
}

// String never includes the number or the name.
func (c Card) String() string {
	return fmt.Sprintf("%s card expiring %02d/%04d", c.Brand, c.ExpMonth, c.ExpYear)
}

// GoString is String, so %#v reveals nothing either.
func (c Card) GoString() string { return c.String() }

// MarshalJSON writes the metadata only.
func (c Card) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"brand":%q,"exp_month":%d,"exp_year":%d}`, c.Brand, c.ExpMonth, c.ExpYear), nil
}

// MaxNameLength bounds the cardholder name (ISO/IEC 7813 allows 26 characters on track 1; names typed
// by people are longer).
const MaxNameLength = 200

// Validate checks a card at time now and returns it without its security code. Field errors are
// named under prefix (e.g. "card.number") and never contain what the client sent.
func Validate(in Input, now time.Time, prefix string) (Card, error) {
	var errs []problem.FieldError
	bad := func(field, msg string) { errs = append(errs, problem.FieldError{Field: prefix + field, Message: msg}) }

	brand, msg := checkNumber(in.Number.Bytes())
	if msg != "" {
		bad("number", msg)
	}
	switch {
	case in.ExpMonth < 1 || in.ExpMonth > 12:
		bad("exp_month", "must be a month from 1 to 12")
	case in.ExpYear < 2000 || in.ExpYear > 2099:
		bad("exp_year", "must be a four-digit year")
	case expired(in.ExpMonth, in.ExpYear, now):
		bad("exp_year", "the card has expired")
	}
	if m := checkCVC(in.CVC, brand); m != "" {
		bad("cvc", m)
	}
	if utf8.RuneCountInString(in.Name) > MaxNameLength || !utf8.ValidString(in.Name) {
		bad("name", fmt.Sprintf("must be valid text of at most %d characters", MaxNameLength))
	}
	if len(errs) > 0 {
		return Card{}, problem.Invalid(errs...)
	}
	return Card{Number: in.Number, Brand: brand, ExpMonth: in.ExpMonth, ExpYear: in.ExpYear, Name: in.Name}, nil
}

// checkNumber returns the brand of a card number, or a message saying why it is not one.
func checkNumber(b []byte) (Brand, string) {
	if len(b) == 0 {
		return "", "is required"
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return "", "must contain digits only"
		}
	}
	rule, ok := ruleFor(b)
	if !ok {
		return "", "is not a number of a supported card brand"
	}
	if !lengthOK(rule, len(b)) {
		return "", fmt.Sprintf("has the wrong number of digits for a %s card", rule.brand)
	}
	if !Luhn(b) {
		return "", "is not a valid card number (check digit mismatch)"
	}
	return rule.brand, ""
}

func ruleFor(b []byte) (brandRule, bool) {
	for _, r := range rules {
		for _, p := range r.prefixes {
			n := len(p.lo)
			if len(b) >= n && string(b[:n]) >= p.lo && string(b[:n]) <= p.hi {
				return r, true
			}
		}
	}
	return brandRule{}, false
}

func lengthOK(r brandRule, n int) bool {
	for _, l := range r.lengths {
		if l == n {
			return true
		}
	}
	return false
}

// BrandOf returns the brand of a number by prefix, or "" when none matches. It does not check the
// length or the check digit.
func BrandOf(digits []byte) Brand {
	r, _ := ruleFor(digits)
	return r.brand
}

// Luhn reports whether ASCII digits pass the Luhn check digit.
func Luhn(b []byte) bool {
	sum, double := 0, false
	for i := len(b) - 1; i >= 0; i-- {
		d := int(b[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// checkCVC accepts an absent code (it is optional) or the brand's number of digits.
func checkCVC(cvc string, brand Brand) string {
	if cvc == "" {
		return ""
	}
	for i := 0; i < len(cvc); i++ {
		if cvc[i] < '0' || cvc[i] > '9' {
			return "must contain digits only"
		}
	}
	want := brand.CVCLength()
	if brand == "" {
		// Brand unknown because the number is invalid: accept either length, the number is reported.
		if len(cvc) == 3 || len(cvc) == 4 {
			return ""
		}
		return "must be 3 or 4 digits"
	}
	if len(cvc) != want {
		return fmt.Sprintf("must be %d digits for a %s card", want, brand)
	}
	return ""
}

// expired reports whether a card expiring at the end of month/year (UTC) has expired at now.
func expired(month, year int, now time.Time) bool {
	end := time.Date(year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC)
	return !now.Before(end)
}
