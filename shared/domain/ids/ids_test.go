package ids_test

import (
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
)

// TestGeneratedIDsAreValidAndNeverReadAsCardNumbers: every generator makes ids that the one
// validator accepts, and no id ever holds what a scan for card numbers would flag (hex ids drawn
// plainly do about once in 600).
func TestGeneratedIDsAreValidAndNeverReadAsCardNumbers(t *testing.T) {
	gens := map[string]func() string{
		ids.Customer: func() string { return billing.NewID(billing.CustomerPrefix) },
		ids.Invoice:  func() string { return billing.NewID(billing.InvoicePrefix) },
		ids.Payment:  func() string { return billing.NewID(billing.PaymentPrefix) },
		ids.Token:    vault.NewTokenID,
		ids.Event:    audit.NewEventID,
	}
	for prefix, gen := range gens {
		for range 5000 {
			id := gen()
			if !ids.Valid(prefix, id) || logging.ContainsPAN(id) {
				t.Fatalf("%s: generated %q", prefix, id)
			}
		}
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		prefix, id string
		want       bool
	}{
		{ids.Customer, "cus_aaaaaaaaaaaaaaaaaaaaaaaaaa", true},
		{ids.Customer, "cus_aaaaaaaaaaaaaaaaaaaaaaaaa", false},  // short
		{ids.Customer, "cus_AAAAAAAAAAAAAAAAAAAAAAAAAA", false}, // upper case
		{ids.Customer, "in_aaaaaaaaaaaaaaaaaaaaaaaaaa", false},  // another kind
		{ids.Customer, "4242424242424242", false},
		{ids.Token, "tok_0123456789abcdef0123456789abcdef", true},
		{ids.Token, "tok_0123456789ABCDEF0123456789ABCDEF", false},
		{ids.Token, "tok_4242424242424242abcdefabcdefabcd", false}, // the shape, with a card number in it
		{ids.Token, "tok_5555 5555 5555 4444", false},
		{ids.Event, "evt_0123456789abcdef0123456789abcdef", true},
	}
	for _, tt := range tests {
		if got := ids.Valid(tt.prefix, tt.id); got != tt.want {
			t.Errorf("Valid(%q, %q) = %v, want %v", tt.prefix, tt.id, got, tt.want)
		}
	}
}
