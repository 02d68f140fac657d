package billing

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

func TestExponent(t *testing.T) {
	tests := []struct {
		c    Currency
		want int
		ok   bool
	}{
		{"JPY", 0, true}, {"KRW", 0, true}, {"KWD", 3, true}, {"BHD", 3, true}, {"JOD", 3, true},
		{"OMR", 3, true}, {"TND", 3, true}, {"EUR", 2, true}, {"USD", 2, true}, {"GBP", 2, true},
		{"eur", 0, false}, {"XYZ", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		got, ok := Exponent(tt.c)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Exponent(%q) = %d, %v; want %d, %v", tt.c, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTaxOfRoundsHalfAwayFromZero(t *testing.T) {
	tests := []struct {
		amount, bps, want int64
		overflow          bool
	}{
		{10000, 1900, 1900, false},
		{1, 5000, 1, false},                          // 0.5 → 1
		{1, 4999, 0, false},                          // 0.4999 → 0
		{3, 5000, 2, false},                          // 1.5 → 2
		{5, 1000, 1, false},                          // 0.5 → 1
		{-5, 1000, -1, false},                        // -0.5 → -1 (away from zero)
		{-15, 1000, -2, false},                       // -1.5 → -2
		{-14, 1000, -1, false},                       // -1.4 → -1
		{999, 825, 82, false},                        // 82.4175 → 82
		{1000, 825, 83, false},                       // 82.5 → 83
		{12345, 0, 0, false},                         // no tax
		{0, 10000, 0, false},                         // nothing to tax
		{math.MaxInt64, 10000, math.MaxInt64, false}, // 128-bit product: exact, no wrap
		{math.MaxInt64, 5000, 4611686018427387904, false},
		{math.MaxInt64, 10001, 0, true},
		{math.MinInt64, 10000, math.MinInt64, false},
	}
	for _, tt := range tests {
		got, err := TaxOf(tt.amount, tt.bps)
		if (err != nil) != tt.overflow || got != tt.want {
			t.Errorf("TaxOf(%d, %d) = %d, %v; want %d, overflow %v", tt.amount, tt.bps, got, err, tt.want, tt.overflow)
		}
	}
}

func TestComputeLines(t *testing.T) {
	type line struct{ qty, unit, bps int64 }
	tests := []struct {
		name     string
		currency Currency
		lines    []line
		want     Totals
		// wantLineTax is each line's tax.
		wantLineTax []int64
		wantField   string // set when the totals overflow
	}{
		{"EUR 19% VAT", "EUR", []line{{2, 1999, 1900}}, Totals{3998, 760, 4758}, []int64{760}, ""}, // 759.62 → 760
		{"EUR rounding per line, not on the sum", "EUR", []line{{1, 5, 1000}, {1, 5, 1000}}, Totals{10, 2, 12}, []int64{1, 1}, ""},
		{"JPY has no minor unit: 10% of ¥1,005", "JPY", []line{{1, 1005, 1000}}, Totals{1005, 101, 1106}, []int64{101}, ""},
		{"JPY 8% reduced rate", "JPY", []line{{3, 333, 800}}, Totals{999, 80, 1079}, []int64{80}, ""},                   // 79.92 → 80
		{"KWD three decimals: 5% of 1.235 KWD", "KWD", []line{{1, 1235, 500}}, Totals{1235, 62, 1297}, []int64{62}, ""}, // 61.75 → 62
		{"KWD 0% and 15%", "KWD", []line{{10, 100, 0}, {1, 3333, 1500}}, Totals{4333, 500, 4833}, []int64{0, 500}, ""},  // 499.95 → 500
		{"zero price line", "USD", []line{{5, 0, 2000}}, Totals{0, 0, 0}, []int64{0}, ""},
		{"100% tax", "USD", []line{{1, 12345, 10000}}, Totals{12345, 12345, 24690}, []int64{12345}, ""},
		{"product overflows", "USD", []line{{math.MaxInt64/2 + 1, 2, 0}}, Totals{}, nil, "lines[0].unit_amount"},
		{"sum overflows", "USD", []line{{1, math.MaxInt64, 0}, {1, 1, 0}}, Totals{}, nil, "lines"},
		{"total overflows only with tax", "USD", []line{{1, math.MaxInt64 - 10, 100}}, Totals{}, nil, "lines"},
		{"largest representable line", "USD", []line{{1, math.MaxInt64, 0}}, Totals{math.MaxInt64, 0, math.MaxInt64}, []int64{0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := make([]Line, len(tt.lines))
			for i, l := range tt.lines {
				lines[i] = Line{Quantity: l.qty, UnitAmount: l.unit, TaxRateBPS: l.bps}
			}
			got, err := ComputeLines(lines)
			if tt.wantField != "" {
				e := problem.From(err)
				if e.Code != problem.ValidationFailed || e.Status() != 422 || len(e.Fields) != 1 || e.Fields[0].Field != tt.wantField {
					t.Fatalf("err = %v (fields %v); want a 422 on %s", err, e.Fields, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("totals (-want +got):\n%s", diff)
			}
			var tax []int64
			for _, l := range lines {
				tax = append(tax, l.Tax)
				if l.Amount != l.Quantity*l.UnitAmount {
					t.Errorf("line amount %d, want %d", l.Amount, l.Quantity*l.UnitAmount)
				}
			}
			if diff := cmp.Diff(tt.wantLineTax, tax); diff != "" {
				t.Errorf("line tax (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStateMachine covers every status × event pair: the legal transitions and the error of each
// illegal one.
func TestStateMachine(t *testing.T) {
	legal := map[Status]map[Event]Status{
		Draft:         {Edit: Draft, Delete: Draft, Finalize: Open},
		Open:          {Pay: Paid, VoidEvent: Void, MarkUncollectible: Uncollectible},
		Uncollectible: {VoidEvent: Void},
		Paid:          {},
		Void:          {},
	}
	// Hard-coded so that a change to the table above cannot hide a change to the machine.
	if legal[Open][Pay] != Paid || legal[Uncollectible][VoidEvent] != Void || len(legal[Paid]) != 0 {
		t.Fatal("test table damaged")
	}
	for _, from := range Statuses {
		for _, ev := range Events {
			got, err := Next(from, ev)
			want, ok := legal[from][ev]
			var wantCode problem.Code
			switch {
			case ok:
			case ev == Edit || ev == Delete || ev == Finalize:
				wantCode = problem.InvoiceNotDraft
			default:
				wantCode = problem.InvalidState
			}
			if got != want || problem.CodeOf(err) != wantCode {
				t.Errorf("Next(%s, %s) = %q, %v; want %q, code %q", from, ev, got, err, want, wantCode)
			}
			if err != nil && problem.From(err).Status() != 409 {
				t.Errorf("Next(%s, %s): status %d, want 409", from, ev, problem.From(err).Status())
			}
		}
	}
}

func TestApplySetsTimestampsAndPayment(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	inv := &Invoice{Status: Draft, Total: 500, AmountDue: 500}
	for _, ev := range []Event{Finalize, Pay} {
		if err := inv.Apply(ev, now); err != nil {
			t.Fatal(err)
		}
	}
	if inv.Status != Paid || inv.AmountPaid != 500 || inv.AmountDue != 0 || *inv.FinalizedAt != "2026-03-01T12:00:00.000Z" || inv.PaidAt == nil {
		t.Errorf("after finalize and pay: %+v", inv)
	}
	if err := inv.Apply(VoidEvent, now); problem.CodeOf(err) != problem.InvalidState || inv.Status != Paid {
		t.Errorf("void a paid invoice: %v, status %s", err, inv.Status)
	}
}

func ptr[T any](v T) *T { return &v }

func validInput() InvoiceInput {
	return InvoiceInput{
		CustomerID: "cus_" + strings.Repeat("a", 26), Currency: "EUR", DueDate: ptr("2026-12-31"),
		Lines: []LineInput{{Description: "Consulting", Quantity: ptr[int64](3), UnitAmount: ptr[int64](15000), TaxRateBPS: ptr[int64](1900)}},
	}
}

func seqID() func(string) string {
	n := 0
	return func(p string) string { n++; return p + strings.Repeat(string(rune('a'+n%26)), 26) }
}

func TestNewInvoice(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	inv, err := NewInvoice("in_x", validInput(), seqID(), now)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Status != Draft || inv.Number != nil || inv.Subtotal != 45000 || inv.Tax != 8550 || inv.Total != 53550 ||
		inv.AmountDue != 53550 || inv.CreatedAt != "2026-01-02T03:04:05.000Z" || inv.Lines[0].ID == "" {
		t.Errorf("invoice %+v", inv)
	}
}

// TestInvoiceValidation lists the bad inputs of the API contract and the field each one names.
func TestInvoiceValidation(t *testing.T) {
	manyLines := make([]LineInput, MaxLines+1)
	for i := range manyLines {
		manyLines[i] = validInput().Lines[0]
	}
	tests := []struct {
		name   string
		edit   func(*InvoiceInput)
		fields []string
	}{
		{"missing customer", func(in *InvoiceInput) { in.CustomerID = "" }, []string{"customer_id"}},
		{"malformed customer", func(in *InvoiceInput) { in.CustomerID = "cus_../x" }, []string{"customer_id"}},
		{"missing currency", func(in *InvoiceInput) { in.Currency = "" }, []string{"currency"}},
		{"unknown currency", func(in *InvoiceInput) { in.Currency = "ABC" }, []string{"currency"}},
		{"lower-case currency", func(in *InvoiceInput) { in.Currency = "eur" }, []string{"currency"}},
		{"bad due date", func(in *InvoiceInput) { in.DueDate = ptr("31/12/2026") }, []string{"due_date"}},
		{"memo too long", func(in *InvoiceInput) { in.Memo = ptr(strings.Repeat("m", MaxMemoLength+1)) }, []string{"memo"}},
		{"no lines", func(in *InvoiceInput) { in.Lines = nil }, []string{"lines"}},
		{"101 lines", func(in *InvoiceInput) { in.Lines = manyLines }, []string{"lines"}},
		{"empty description", func(in *InvoiceInput) { in.Lines[0].Description = "  " }, []string{"lines[0].description"}},
		{"description of 501 characters", func(in *InvoiceInput) { in.Lines[0].Description = strings.Repeat("é", 501) }, []string{"lines[0].description"}},
		{"quantity 0", func(in *InvoiceInput) { in.Lines[0].Quantity = ptr[int64](0) }, []string{"lines[0].quantity"}},
		{"quantity missing", func(in *InvoiceInput) { in.Lines[0].Quantity = nil }, []string{"lines[0].quantity"}},
		{"unit amount missing", func(in *InvoiceInput) { in.Lines[0].UnitAmount = nil }, []string{"lines[0].unit_amount"}},
		{"negative unit amount", func(in *InvoiceInput) { in.Lines[0].UnitAmount = ptr[int64](-1) }, []string{"lines[0].unit_amount"}},
		{"tax rate below 0", func(in *InvoiceInput) { in.Lines[0].TaxRateBPS = ptr[int64](-1) }, []string{"lines[0].tax_rate_bps"}},
		{"tax rate above 10000", func(in *InvoiceInput) { in.Lines[0].TaxRateBPS = ptr[int64](10001) }, []string{"lines[0].tax_rate_bps"}},
		{"product overflows", func(in *InvoiceInput) {
			in.Lines[0].Quantity, in.Lines[0].UnitAmount = ptr[int64](3), ptr[int64](math.MaxInt64/2)
		}, []string{"lines[0].unit_amount"}},
		{"several at once", func(in *InvoiceInput) { in.Currency = "XXX"; in.Lines[0].Quantity = ptr[int64](-2) }, []string{"lines[0].quantity", "currency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validInput()
			in.Lines = append([]LineInput(nil), in.Lines...)
			tt.edit(&in)
			inv, err := NewInvoice("in_x", in, seqID(), time.Now())
			e := problem.From(err)
			if inv != nil || e.Code != problem.ValidationFailed || e.Status() != 422 {
				t.Fatalf("got %v, %v; want a 422", inv, err)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			if diff := cmp.Diff(tt.fields, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInvoicePatch(t *testing.T) {
	now := time.Now()
	inv, err := NewInvoice("in_x", validInput(), seqID(), now)
	if err != nil {
		t.Fatal(err)
	}
	before := *inv
	// Invalid patch leaves the invoice untouched.
	bad := InvoicePatch{Lines: Optional[[]LineInput]{Set: true, Value: []LineInput{{Description: "x", Quantity: ptr[int64](0), UnitAmount: ptr[int64](1)}}}}
	if err := inv.ApplyPatch(bad, seqID(), now); problem.CodeOf(err) != problem.ValidationFailed {
		t.Fatalf("bad patch: %v", err)
	}
	if diff := cmp.Diff(before, *inv); diff != "" {
		t.Fatalf("a refused patch changed the invoice:\n%s", diff)
	}
	good := InvoicePatch{
		Memo:    Optional[string]{Set: true, Value: "thanks"},
		DueDate: Optional[string]{Set: true, Null: true},
		Lines:   Optional[[]LineInput]{Set: true, Value: []LineInput{{Description: "Support", Quantity: ptr[int64](1), UnitAmount: ptr[int64](999)}}},
	}
	if err := inv.ApplyPatch(good, seqID(), now); err != nil {
		t.Fatal(err)
	}
	if *inv.Memo != "thanks" || inv.DueDate != nil || len(inv.Lines) != 1 || inv.Total != 999 || inv.Currency != "EUR" {
		t.Errorf("patched %+v", inv)
	}
	inv.Status = Open
	if err := inv.ApplyPatch(good, seqID(), now); problem.CodeOf(err) != problem.InvoiceNotDraft {
		t.Errorf("patch of an open invoice: %v, want invoice_not_draft", err)
	}
}

func TestCustomerValidation(t *testing.T) {
	addr := &Address{Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE"}
	tests := []struct {
		name   string
		in     CustomerInput
		fields []string
	}{
		{"valid", CustomerInput{Name: "Ada", Email: "ada@example.com", Address: addr, TaxID: ptr("DE123")}, nil},
		{"missing name and email", CustomerInput{}, []string{"name", "email"}},
		{"email without domain dot", CustomerInput{Name: "Ada", Email: "ada@localhost"}, []string{"email"}},
		{"email with display name", CustomerInput{Name: "Ada", Email: "Ada <ada@example.com>"}, []string{"email"}},
		{"email without @", CustomerInput{Name: "Ada", Email: "ada.example.com"}, []string{"email"}},
		{"name too long", CustomerInput{Name: strings.Repeat("n", 201), Email: "a@b.co"}, []string{"name"}},
		{"bad country", CustomerInput{Name: "Ada", Email: "a@b.co", Address: &Address{Line1: "x", City: "y", PostalCode: "1", Country: "XX"}}, []string{"address.country"}},
		{"lower-case country and missing city", CustomerInput{Name: "Ada", Email: "a@b.co", Address: &Address{Line1: "x", PostalCode: "1", Country: "de"}}, []string{"address.city", "address.country"}},
		{"empty tax id", CustomerInput{Name: "Ada", Email: "a@b.co", TaxID: ptr("")}, []string{"tax_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCustomer("cus_x", tt.in, "2026-01-01T00:00:00Z")
			var got []string
			for _, f := range problem.From(err).Fields {
				got = append(got, f.Field)
			}
			if err == nil {
				got = nil
			}
			if diff := cmp.Diff(tt.fields, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCustomerPatch(t *testing.T) {
	c, err := NewCustomer("cus_x", CustomerInput{Name: "Ada", Email: "ada@example.com", TaxID: ptr("T1")}, "t0")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyPatch(CustomerPatch{Email: Optional[string]{Set: true, Null: true}}, "t1"); err == nil || c.Email != "ada@example.com" {
		t.Errorf("null email: %v, email %q", err, c.Email)
	}
	p := CustomerPatch{Name: Optional[string]{Set: true, Value: "Ada L."}, TaxID: Optional[string]{Set: true, Null: true}}
	if err := c.ApplyPatch(p, "t1"); err != nil || c.Name != "Ada L." || c.TaxID != nil || c.Email != "ada@example.com" || c.UpdatedAt != "t1" {
		t.Errorf("patch: %v %+v", err, c)
	}
}

func TestIDs(t *testing.T) {
	a, b := NewID(CustomerPrefix), NewID(CustomerPrefix)
	if a == b || !ValidID(CustomerPrefix, a) || len(a) != 30 {
		t.Errorf("ids %q %q", a, b)
	}
	for _, bad := range []string{"", "cus_", "in_" + a[4:], "cus_" + strings.Repeat("A", 26), a + "a", "cus_" + strings.Repeat("1", 26)} {
		if ValidID(CustomerPrefix, bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func BenchmarkNewInvoice(b *testing.B) {
	in := validInput()
	for i := 0; i < 9; i++ {
		in.Lines = append(in.Lines, in.Lines[0])
	}
	id := func(p string) string { return p + "abcdefghijklmnopqrstuvwxyz" }
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewInvoice("in_x", in, id, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComputeLines(b *testing.B) {
	lines := make([]Line, 10)
	for i := range lines {
		lines[i] = Line{Quantity: int64(i + 1), UnitAmount: 1999, TaxRateBPS: 1900}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ComputeLines(lines); err != nil {
			b.Fatal(err)
		}
	}
}
