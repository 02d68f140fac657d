// Package ids owns the shapes of Vaultbill's object identifiers (DESIGN §5: a prefix and at least 128
// random bits), so that every id a client sends is checked against them in one place before it is
// stored, logged or put in an audit record.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"strings"

	"github.com/vaultbill/vaultbill/shared/api/logging"
)

// Prefixes of the ids the API generates.
const (
	Customer = "cus_"
	Invoice  = "in_"
	Line     = "il_"
	Payment  = "pay_"
	Token    = "tok_"
	Event    = "evt_"
	// CreditNote names credit notes, Refund the refunds of post-payment credit notes.
	CreditNote = "cn_"
	Refund     = "re_"
	// Attempt marks a card attempt on the counters that limit them; it never leaves the table.
	Attempt = "att_"
)

// Random parts: billing ids carry 128 bits in lower-case base32 (billing.NewID), token and event ids
// 128 bits in lower-case hex (vault.NewTokenID, audit.NewEventID).
const (
	base32Length = 26
	hexLength    = 32
)

var base32Encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New returns prefix and 128 random bits, in hex for token and event ids and in lower-case base32
// for the others. Ids are never derived from data. An id whose text would read as a card number (a
// hex id has a Luhn-valid run of 13 or more decimal digits about once in 600 draws) is drawn again,
// so that ids pass every scan for card numbers untouched and such a run in an id is always an attack.
func New(prefix string) string {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic("ids: crypto/rand failed: " + err.Error())
		}
		var id string
		if hexID(prefix) {
			id = prefix + hex.EncodeToString(b[:])
		} else {
			id = prefix + base32Encoding.EncodeToString(b[:])
		}
		if !logging.ContainsPAN(id) {
			return id
		}
	}
}

func hexID(prefix string) bool { return prefix == Token || prefix == Event }

// Valid reports whether s is an id with prefix, shaped as New(prefix) makes them. Prefixes this
// package does not list are taken to be billing ids (base32).
func Valid(prefix, s string) bool {
	if !strings.HasPrefix(s, prefix) {
		return false
	}
	rest := s[len(prefix):]
	var ok bool
	if hexID(prefix) {
		ok = len(rest) == hexLength && all(rest, func(r byte) bool { return '0' <= r && r <= '9' || 'a' <= r && r <= 'f' })
	} else {
		ok = len(rest) == base32Length && all(rest, func(r byte) bool { return 'a' <= r && r <= 'z' || '2' <= r && r <= '7' })
	}
	return ok && !logging.ContainsPAN(rest)
}

func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// kind is what an id names, for error messages.
var kind = map[string]string{
	Customer: "customer", Invoice: "invoice", Line: "invoice line", Payment: "payment", Token: "token", Event: "audit event",
	CreditNote: "credit note", Refund: "refund",
}

// Kind names the object an id prefix stands for ("customer"), or "object" for an unknown prefix.
func Kind(prefix string) string {
	if k, ok := kind[prefix]; ok {
		return k
	}
	return "object"
}

// collections maps the path segment before a {param} to the prefix of the id it takes:
// /v1/customers/{id} takes a customer id.
var collections = map[string]string{
	"customers": Customer, "invoices": Invoice, "payments": Payment, "tokens": Token, "audit-events": Event,
	"credit-notes": CreditNote,
}

// ForCollection returns the id prefix that the path parameter after collection (a path segment such
// as "customers") takes, if the collection holds objects with generated ids.
func ForCollection(collection string) (string, bool) {
	p, ok := collections[collection]
	return p, ok
}

// fields maps the names of body fields and query parameters that carry ids to their prefix.
var fields = map[string]string{
	"customer_id": Customer, "invoice_id": Invoice, "payment_id": Payment, "token": Token, "token_id": Token,
}

// ForField returns the id prefix a body field or query parameter named name takes, if it carries an id.
func ForField(name string) (string, bool) {
	p, ok := fields[name]
	return p, ok
}
