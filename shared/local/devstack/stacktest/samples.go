package stacktest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
)

// SampleStore is the billing store as a function holds it (with the customers' keys), over the stack
// that cfg and c name.
func SampleStore(cfg aws.Config, c config.Config) *billingdb.Store {
	db := dynamodb.NewFromConfig(cfg)
	return &billingdb.Store{DB: db, Table: c.BillingTable,
		Keys: customerkeys.New(kms.NewFromConfig(cfg), db, c.BillingTable, c.DataKeyID)}
}

// SeedSamples stores, in one transaction, what the sample events in events/ name: the customer
// customerID ("Sample Customer") and, under each of invoiceIDs, an invoice of it of 10.00 EUR. With
// open, every invoice is finalized, numbered INV-900001, INV-900002, ...; without, all stay drafts.
func SeedSamples(tb testing.TB, cfg aws.Config, c config.Config, customerID string, open bool, invoiceIDs ...string) {
	tb.Helper()
	db := dynamodb.NewFromConfig(cfg)
	st := SampleStore(cfg, c)
	now := time.Now()
	cus, err := billing.NewCustomer(customerID, billing.CustomerInput{Name: "Sample Customer", Email: "sample@example.com"}, billing.FormatTime(now))
	if err != nil {
		tb.Fatal(err)
	}
	items, err := st.CreateCustomerItems(context.Background(), cus)
	if err != nil {
		tb.Fatal(err)
	}
	for i, id := range invoiceIDs {
		q, u := int64(1), int64(1000)
		inv, err := billing.NewInvoice(id, billing.InvoiceInput{CustomerID: customerID, Currency: "EUR",
			Lines: []billing.LineInput{{Description: "Sample", Quantity: &q, UnitAmount: &u}}}, billing.NewID, now)
		if err != nil {
			tb.Fatal(err)
		}
		if open {
			if err := inv.Apply(billing.Finalize, now); err != nil {
				tb.Fatal(err)
			}
			num := billing.FormatNumber(int64(900001 + i))
			inv.Number = &num
		}
		its, err := st.CreateInvoiceItems(inv)
		if err != nil {
			tb.Fatal(err)
		}
		items = append(items, its[1])
	}
	if _, err := db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		tb.Fatalf("seed samples: %v", err)
	}
}
