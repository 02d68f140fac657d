package stacktest

import (
	"testing"

	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
)

// Caller is one of the callers a permission test sends a route as.
type Caller struct {
	Name     string
	Role     auth.Role
	Customer string
}

// Callers are the six callers of DESIGN §4's table: the four staff roles ("admin", "billing",
// "payments", "auditor"), a customer on its own objects ("customer-own", of own) and a customer on
// another's ("customer-other", of other).
func Callers(own, other string) []Caller {
	return []Caller{
		{"admin", auth.Admin, ""}, {"billing", auth.Billing, ""}, {"payments", auth.Payments, ""},
		{"auditor", auth.Auditor, ""}, {"customer-own", auth.Customer, own}, {"customer-other", auth.Customer, other},
	}
}

// NoMFAClient is a client of role whose token does not show MFA.
func NoMFAClient(t testing.TB, s *devstack.Stack, role string) *Client {
	t.Helper()
	return &Client{T: t, S: s, Token: Token(t, s, devstack.TokenSpec{Role: role, Subject: "no-mfa", NoMFA: true})}
}
