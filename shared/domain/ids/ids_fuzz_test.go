package ids

import (
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/api/logging"
)

// FuzzValid checks that an id accepted for a kind has exactly the shape New makes for it: the prefix,
// 26 base32 or 32 hex characters, and no card number; and that every collection a path can name takes
// ids New makes.
func FuzzValid(f *testing.F) {
	for _, s := range []string{
		"cus_aaaaaaaaaaaaaaaaaaaaaaaaaa", "cus_AAAAAAAAAAAAAAAAAAAAAAAAAA", "cus_aaaaaaaaaaaaaaaaaaaaaaaaa",
		"tok_0123456789abcdef0123456789abcdef", "tok_4111111111111111aaaaaaaaaaaaaaaa",
		"in_", "", "cus_\u00e9aaaaaaaaaaaaaaaaaaaaaaa", "../../etc/passwd", "cus_aaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	} {
		f.Add(s, "customers")
		f.Add(s, "tokens")
	}
	f.Add("evt_0123456789abcdef0123456789abcdef", "audit-events")
	f.Add("cn_aaaaaaaaaaaaaaaaaaaaaaaaaa", "credit-notes")
	f.Fuzz(func(t *testing.T, s, collection string) {
		prefix, ok := ForCollection(collection)
		if !ok {
			prefix = Customer
		} else if id := New(prefix); !Valid(prefix, id) {
			t.Fatalf("New(%q) = %q is not Valid", prefix, id)
		}
		if !Valid(prefix, s) {
			return
		}
		rest, found := strings.CutPrefix(s, prefix)
		if !found || logging.ContainsPAN(s) {
			t.Fatalf("Valid(%q, %q) accepted an id without its prefix or with a card number", prefix, s)
		}
		alphabet, n := "abcdefghijklmnopqrstuvwxyz234567", 26
		if hexID(prefix) {
			alphabet, n = "0123456789abcdef", 32
		}
		if len(rest) != n || strings.Trim(rest, alphabet) != "" {
			t.Fatalf("Valid(%q, %q) accepted a malformed random part", prefix, s)
		}
	})
}
