package billing

import (
	"strings"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

func TestCreditNoteInputValidate(t *testing.T) {
	amount := func(v int64) *int64 { return &v }
	memo := func(s string) *string { return &s }
	tests := []struct {
		name  string
		in    CreditNoteInput
		field string
	}{
		{"valid", CreditNoteInput{Amount: amount(1), Reason: "duplicate"}, ""},
		{"memo of 500 characters", CreditNoteInput{Amount: amount(1), Reason: "fraudulent", Memo: memo(strings.Repeat("é", 500))}, ""},
		{"no amount", CreditNoteInput{Reason: "duplicate"}, "amount"},
		{"zero", CreditNoteInput{Amount: amount(0), Reason: "duplicate"}, "amount"},
		{"negative", CreditNoteInput{Amount: amount(-1), Reason: "duplicate"}, "amount"},
		{"no reason", CreditNoteInput{Amount: amount(1)}, "reason"},
		{"unknown reason", CreditNoteInput{Amount: amount(1), Reason: "other"}, "reason"},
		{"memo of 501 characters", CreditNoteInput{Amount: amount(1), Reason: "order_change", Memo: memo(strings.Repeat("a", 501))}, "memo"},
	}
	for _, tt := range tests {
		err := tt.in.Validate()
		e := problem.From(err)
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.field != "" && (e.Code != problem.ValidationFailed || len(e.Fields) != 1 || e.Fields[0].Field != tt.field):
			t.Errorf("%s: %+v, want a 422 on %s", tt.name, e, tt.field)
		}
	}
}

func TestCreditNoteTypeAndCredit(t *testing.T) {
	now := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	payment := "pay_x"
	tests := []struct {
		inv  Invoice
		want CreditNoteType
		code problem.Code
		left int64
	}{
		{Invoice{Status: Open, Total: 1000, AmountDue: 1000}, PrePayment, "", 1000},
		{Invoice{Status: Open, Total: 1000, AmountDue: 1000, ClaimPaymentID: "pay_y"}, "", problem.InvalidState, 0},
		{Invoice{Status: Paid, Total: 1000, AmountPaid: 800, AmountCredited: 200, PaymentID: &payment, RefundReserved: 300}, PostPayment, "", 500},
		{Invoice{Status: Paid, Total: 1000, AmountCredited: 1000}, PostPayment, "", 0},
		{Invoice{Status: Draft}, "", problem.InvalidState, 0},
		{Invoice{Status: Void}, "", problem.InvalidState, 0},
		{Invoice{Status: Uncollectible}, "", problem.InvalidState, 0},
	}
	for _, tt := range tests {
		got, err := tt.inv.CreditNoteTypeOf()
		if got != tt.want || problem.CodeOf(err) != tt.code && err != nil || tt.code != "" && err == nil {
			t.Errorf("%s: %q, %v; want %q %q", tt.inv.Status, got, err, tt.want, tt.code)
		}
		if err == nil && tt.inv.CreditLeft(got) != tt.left {
			t.Errorf("%s: %d left, want %d", tt.inv.Status, tt.inv.CreditLeft(got), tt.left)
		}
	}

	inv := Invoice{Status: Open, Total: 1000, AmountDue: 1000}
	if err := inv.ApplyCredit(1001, now); problem.CodeOf(err) != problem.ValidationFailed || inv.AmountDue != 1000 {
		t.Errorf("credit above the amount due: %v, %+v", err, inv)
	}
	if err := inv.ApplyCredit(400, now); err != nil || inv.AmountDue != 600 || inv.AmountCredited != 400 || inv.Status != Open {
		t.Errorf("partial credit: %v, %+v", err, inv)
	}
	if err := inv.ApplyCredit(600, now); err != nil || inv.Status != Paid || inv.AmountDue != 0 || inv.AmountPaid != 0 || inv.PaidAt == nil {
		t.Errorf("credit to zero: %v, %+v", err, inv)
	}
	if inv.AmountCredited+inv.AmountPaid+inv.AmountDue != inv.Total {
		t.Errorf("total %d != credited %d + paid %d + due %d", inv.Total, inv.AmountCredited, inv.AmountPaid, inv.AmountDue)
	}

	// A payment after a credit pays what is left.
	inv = Invoice{Status: Open, Total: 1000, AmountDue: 1000}
	_ = inv.ApplyCredit(250, now)
	if err := inv.Apply(Pay, now); err != nil || inv.AmountPaid != 750 || inv.AmountDue != 0 {
		t.Errorf("pay after a credit: %v, %+v", err, inv)
	}
	if FormatCreditNoteNumber(7) != "CN-000007" || FormatCreditNoteNumber(1234567) != "CN-1234567" {
		t.Error("credit note numbers")
	}
}
