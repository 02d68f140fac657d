package billingdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

func commit(t *testing.T, db *dynamodb.Client, items ...types.TransactWriteItem) error {
	t.Helper()
	_, err := db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

// TestMarkPaidItem is the seam the payments function uses: read an open invoice with Get, then settle
// it in its own transaction with MarkPaidItem. A second payment on the same read, or on a stale one,
// is refused by the version condition, so an invoice is paid at most once.
func TestMarkPaidItem(t *testing.T) {
	s := stacktest.New(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(s.Env.AWS)
	st := &billingdb.Store{DB: db, Table: s.Env.Config.BillingTable,
		Keys: customerkeys.New(kms.NewFromConfig(s.Env.AWS), db, s.Env.Config.BillingTable, s.Env.Config.DataKeyID)}
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

	cus, err := billing.NewCustomer(billing.NewID(billing.CustomerPrefix), billing.CustomerInput{Name: "Payer", Email: "p@example.com"}, billing.FormatTime(now))
	if err != nil {
		t.Fatal(err)
	}
	cusItems, _ := st.CreateCustomerItems(ctx, cus)
	qty, unit := int64(2), int64(2500)
	inv, err := billing.NewInvoice(billing.NewID(billing.InvoicePrefix), billing.InvoiceInput{
		CustomerID: cus.ID, Currency: "EUR", Lines: []billing.LineInput{{Description: "Plan", Quantity: &qty, UnitAmount: &unit}},
	}, billing.NewID, now)
	if err != nil {
		t.Fatal(err)
	}
	invItems, _ := st.CreateInvoiceItems(inv)
	if err := commit(t, db, cusItems...); err != nil {
		t.Fatal(err)
	}
	if err := commit(t, db, invItems...); err != nil {
		t.Fatal(err)
	}

	// A draft cannot be paid.
	draft, err := st.Get(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = commit(t, db, st.MarkPaidItem(draft, billing.NewID(billing.PaymentPrefix), billing.FormatTime(now)))
	if !billingdb.Failed(err, 0, billingdb.ReasonConditionFailed) {
		t.Fatalf("paying a draft: %v", err)
	}

	// Finalize it.
	prev := draft.Version
	last, err := st.LastNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := draft.Apply(billing.Finalize, now); err != nil {
		t.Fatal(err)
	}
	num := billing.FormatNumber(last + 1)
	draft.Number, draft.Version = &num, prev+1
	fin, _ := st.FinalizeItems(draft, prev, last)
	if err := commit(t, db, fin...); err != nil {
		t.Fatal(err)
	}

	open, err := st.Get(ctx, inv.ID)
	if err != nil || open.Status != billing.Open {
		t.Fatalf("open invoice: %+v, %v", open, err)
	}
	payID := billing.NewID(billing.PaymentPrefix)
	if err := commit(t, db, st.MarkPaidItem(open, payID, "2026-05-02T10:00:00.000Z")); err != nil {
		t.Fatalf("mark paid: %v", err)
	}
	paid, err := st.Get(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *open
	want.Status, want.AmountPaid, want.AmountDue, want.Version = billing.Paid, 5000, 0, open.Version+1
	at := "2026-05-02T10:00:00.000Z"
	want.PaidAt, want.UpdatedAt, want.PaymentID = &at, at, &payID
	if diff := cmp.Diff(&want, paid); diff != "" {
		t.Errorf("paid invoice (-want +got):\n%s", diff)
	}
	// The same read used again (a retry, a second payment racing the first) is refused.
	err = commit(t, db, st.MarkPaidItem(open, billing.NewID(billing.PaymentPrefix), at))
	if !billingdb.Failed(err, 0, billingdb.ReasonConditionFailed) {
		t.Errorf("second payment: %v, want a condition failure", err)
	}
	// It is listed under its new status.
	list, err := st.ListInvoices(ctx, billingdb.InvoiceFilter{Status: billing.Paid}, billingdb.Page{Limit: 10})
	if err != nil || len(list.Data) != 1 || list.Data[0].ID != inv.ID {
		t.Errorf("paid invoices: %+v, %v", list, err)
	}
}

func TestGetUnknownAndMalformedIDs(t *testing.T) {
	s := stacktest.New(t)
	st := &billingdb.Store{DB: dynamodb.NewFromConfig(s.Env.AWS), Table: s.Env.Config.BillingTable}
	for _, id := range []string{"in_aaaaaaaaaaaaaaaaaaaaaaaaaa", "in_x", "../INV#x", "COUNTER#invoice_number"} {
		if _, err := st.Get(context.Background(), id); problem.CodeOf(err) != problem.NotFound {
			t.Errorf("Get(%q): %v, want not_found", id, err)
		}
	}
}

func TestParsePage(t *testing.T) {
	good := billingdb.EncodeCursor("2026-01-01T00:00:00.000Z#in_aaaaaaaaaaaaaaaaaaaaaaaaaa")
	tests := []struct {
		limit, cursor string
		want          billingdb.Page
		bad           string
	}{
		{"", "", billingdb.Page{Limit: 20}, ""},
		{"1", "", billingdb.Page{Limit: 1}, ""},
		{"100", good, billingdb.Page{Limit: 100, After: "2026-01-01T00:00:00.000Z#in_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, ""},
		{"0", "", billingdb.Page{}, "limit"},
		{"101", "", billingdb.Page{}, "limit"},
		{"-3", "", billingdb.Page{}, "limit"},
		{"", "%%%", billingdb.Page{}, "cursor"},
		{"", billingdb.EncodeCursor("hello"), billingdb.Page{}, "cursor"},
		{"", billingdb.EncodeCursor("2026-01-01T00:00:00Z#cus_aaaaaaaaaaaaaaaaaaaaaaaaaa"), billingdb.Page{}, "cursor"}, // another list's cursor
		{"", billingdb.EncodeCursor("yesterday#in_aaaaaaaaaaaaaaaaaaaaaaaaaa"), billingdb.Page{}, "cursor"},
	}
	for _, tt := range tests {
		got, err := billingdb.ParsePage(tt.limit, tt.cursor, billing.InvoicePrefix)
		if tt.bad != "" {
			e := problem.From(err)
			if e.Status() != 400 || len(e.Fields) != 1 || e.Fields[0].Field != tt.bad {
				t.Errorf("ParsePage(%q, %q): %v, want a 400 on %s", tt.limit, tt.cursor, err, tt.bad)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePage(%q, %q) = %+v, %v; want %+v", tt.limit, tt.cursor, got, err, tt.want)
		}
	}
}
