package idempotency

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// FuzzValidateKey checks the Idempotency-Key rule (at most 255 characters, printable, no card
// number) and that a refusal never echoes the key: its problem is the same, byte for byte, as the
// refusal of a fixed key of the same kind.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{
		"", "order-42", "3f1c5a0e-8d2b-4c1e-9a7f-1b2c3d4e5f60", strings.Repeat("k", 255), strings.Repeat("k", 256),
		"4111111111111111", "pay-4111-1111-1111-1111", "key\x00", "key\r\nX-Injected: 1", "clé-ü", "\u202e",
	} {
		f.Add(s)
	}
	tooLong := problemJSON(ValidateKey(strings.Repeat("k", MaxKeyLength+1)))
	badChars := problemJSON(ValidateKey("4111111111111111"))
	f.Fuzz(func(t *testing.T, key string) {
		err := ValidateKey(key)
		printable := !strings.ContainsFunc(key, func(r rune) bool { return !unicode.IsPrint(r) })
		want := len(key) <= MaxKeyLength && printable && !logging.ContainsPAN(key)
		if (err == nil) != want {
			t.Fatalf("ValidateKey(%q) = %v, want accepted=%v", key, err, want)
		}
		if err == nil {
			return
		}
		if got := problemJSON(err); got != tooLong && got != badChars {
			t.Fatalf("refusal of %q depends on the key: %s", key, got)
		}
	})
}

func problemJSON(err error) string {
	e := problem.From(err)
	b, _ := json.Marshal(struct {
		Detail string
		Fields []problem.FieldError
		Status int
	}{e.Detail, e.Fields, e.Status()})
	return string(b)
}
