package auth

import (
	"testing"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// TestPermissionTable pins DESIGN §4 row by row: a change to who may do what must change this test.
func TestPermissionTable(t *testing.T) {
	Y, O, N := All, Own, None
	want := map[Action][5]Scope{ // admin, billing, payments, auditor, customer
		ReadSelf:       {Y, Y, Y, Y, Y},
		WriteCustomers: {Y, Y, N, N, N},
		ReadCustomers:  {Y, Y, Y, Y, O},
		WriteInvoices:  {Y, Y, N, N, N},
		ReadInvoices:   {Y, Y, Y, Y, O},
		WriteTokens:    {N, N, Y, N, O},
		ReadTokens:     {Y, N, Y, Y, O},
		PayInvoices:    {N, N, Y, N, O},
		ReadAudit:      {Y, N, N, Y, N},
		// Credit notes on open invoices, refunds (credit notes on paid invoices), and the route that
		// does either: it admits anyone who may do one of them, and the handler checks which.
		IssueCreditNotes:  {Y, Y, N, N, N},
		RefundInvoices:    {Y, N, Y, N, N},
		CreateCreditNotes: {Y, Y, Y, N, N},
		ReadPayments:      {Y, Y, Y, Y, O},
		ReadCreditNotes:   {Y, Y, Y, Y, O},
		ManageUsers:       {Y, N, N, N, N},
		ExportCustomers:   {Y, N, N, N, O},
		EraseCustomers:    {Y, N, N, N, N},
	}
	for action, row := range want {
		for i, role := range Roles {
			if got := ScopeOf(role, action); got != row[i] {
				t.Errorf("%s by %s: scope %d, want %d", action, role, got, row[i])
			}
		}
	}
	if len(permissions) != len(want) {
		t.Errorf("permission table has %d actions, test pins %d", len(permissions), len(want))
	}
}

func TestAuthorize(t *testing.T) {
	tests := []struct {
		p      Principal
		action Action
		want   problem.Code
	}{
		{Principal{ID: "u", Role: Billing, MFA: true}, WriteInvoices, ""},
		{Principal{ID: "u", Role: Billing, MFA: false}, WriteInvoices, problem.MFARequired},
		{Principal{ID: "u", Role: Auditor, MFA: true}, WriteInvoices, problem.Forbidden},
		{Principal{ID: "u", Role: Customer, CustomerID: "cus_1", MFA: true}, ReadInvoices, ""},
		{Principal{ID: "u", Role: Customer, CustomerID: "cus_1", MFA: true}, ReadAudit, problem.Forbidden},
	}
	for _, tt := range tests {
		if got := problem.CodeOf(tt.p.Authorize(tt.action)); got != tt.want {
			t.Errorf("%s %s: got %q, want %q", tt.p.Role, tt.action, got, tt.want)
		}
	}
}

func TestCanAccessOwnObjectsOnly(t *testing.T) {
	c := Principal{ID: "u", Role: Customer, CustomerID: "cus_1", MFA: true}
	if !c.CanAccess(ReadInvoices, "cus_1") || c.CanAccess(ReadInvoices, "cus_2") {
		t.Error("customer must reach its own invoices and only those")
	}
	if (Principal{Role: Customer, MFA: true}).CanAccess(ReadInvoices, "") {
		t.Error("a customer without a customer id must reach nothing")
	}
	if !(Principal{Role: Auditor}).CanAccess(ReadInvoices, "cus_9") {
		t.Error("auditor reads every invoice")
	}
}

func TestRoleFromGroupsAndContextRoundTrip(t *testing.T) {
	if r, ok := RoleFromGroups([]string{"customer", "billing"}); !ok || r != Billing {
		t.Errorf("got %q, want the most privileged known role", r)
	}
	if _, ok := RoleFromGroups([]string{"superuser"}); ok {
		t.Error("unknown groups must not map to a role")
	}
	p := Principal{ID: "sub-1", Username: "ann", Role: Customer, CustomerID: "cus_1", MFA: true}
	got, err := FromContext(p.Context())
	if err != nil || got != p {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := FromContext(map[string]any{}); problem.CodeOf(err) != problem.Unauthorized {
		t.Errorf("empty context: %v", err)
	}
}
