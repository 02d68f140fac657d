// Package card owns payment card data: the PAN type that cannot be printed, logged or marshalled, and
// the validation of a card (Luhn, brand by prefix and length, expiry, security code).
package card

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
)

// Redacted is what a PAN shows wherever it is printed, logged or marshalled.
const Redacted = "[REDACTED:PAN]"

// PAN is a primary account number held as ASCII bytes, so it can be zeroed after use (a Go string
// cannot). Every way of rendering it (fmt verbs, slog, JSON, text) prints Redacted; the digits are
// reachable only through Bytes.
//
// Before Validate accepts it, a PAN holds whatever the client sent in the number field.
type PAN struct{ b []byte }

// NewPAN copies digits into a PAN. Tests and the sealed-payload decoder use it.
func NewPAN(digits []byte) PAN { return PAN{b: append([]byte(nil), digits...)} }

// Bytes returns the number's ASCII digits. The slice is the PAN's own memory: do not keep or modify
// it, and do not turn it into a string that outlives the call that needs it.
func (p PAN) Bytes() []byte { return p.b }

// Len is the number of characters in the PAN.
func (p PAN) Len() int { return len(p.b) }

// Empty reports whether the PAN holds nothing.
func (p PAN) Empty() bool { return len(p.b) == 0 }

// Equal reports, in constant time, whether the PAN is the given number. The sandbox processor uses it
// to recognise test cards.
func (p PAN) Equal(number string) bool {
	return subtle.ConstantTimeCompare(p.b, []byte(number)) == 1
}

// BIN is the issuer identification prefix shown on token metadata: the first six digits, the most
// PCI DSS 3.4.1 allows to be displayed together with the last four.
func (p PAN) BIN() string {
	if len(p.b) < 6 {
		return ""
	}
	return string(p.b[:6])
}

// Last4 is the last four digits.
func (p PAN) Last4() string {
	if len(p.b) < 4 {
		return ""
	}
	return string(p.b[len(p.b)-4:])
}

// Zero overwrites the digits. Call it (or Card.Zero) as soon as the number is no longer needed.
func (p *PAN) Zero() {
	clear(p.b)
	p.b = nil
}

// String returns Redacted.
func (p PAN) String() string { return Redacted }

// GoString returns Redacted, so %#v cannot print the digits either.
func (p PAN) GoString() string { return Redacted }

// Format prints Redacted for every fmt verb (%v, %s, %d, %x, %q, ...).
func (p PAN) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue returns Redacted to slog.
func (p PAN) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON writes Redacted: a PAN is never sent or stored as JSON.
func (p PAN) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

// MarshalText writes Redacted, for encoders that use encoding.TextMarshaler.
func (p PAN) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// IsCardNumberField marks PAN as the one type of a request body that may carry a card number: the
// request decoder refuses a card number anywhere else.
func (*PAN) IsCardNumberField() {}

// UnmarshalJSON reads the number field of a request. It accepts any JSON string and keeps its bytes
// as sent; Validate decides whether they are a card number. Anything but a string is a type error.
func (p *PAN) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return &json.UnmarshalTypeError{Value: "non-string", Type: panType}
	}
	inner := b[1 : len(b)-1]
	for _, c := range inner {
		if c == '\\' {
			// Escapes are never needed in a card number; decoding them would mean a string copy.
			p.b = []byte{'?'}
			return nil
		}
	}
	p.b = append(p.b[:0], inner...)
	return nil
}

// panType is reported in type errors: the number must be sent as a JSON string.
var panType = reflect.TypeFor[string]()
