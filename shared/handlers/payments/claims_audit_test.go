package payments_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestEveryClaimWriteCommitsWithItsRecord: the claim of an invoice, its take-over by a recovering
// request, the early expiry of a lease and the abandon of an attempt that never reached the processor
// each change the invoice; each commits in one transaction with an audit record naming the invoice
// and the payment, so the trail shows who held an invoice and why it was released.
func TestEveryClaimWriteCommitsWithItsRecord(t *testing.T) {
	ps := newPayStack(t)
	cus := ps.billing.Customer("Ada").ID
	tok := ps.pay.Tokenize(cus, processor.TestVisa)
	kmsDown, crashed := ps.billing.Open(cus), ps.billing.Open(cus)

	var mu sync.Mutex
	var writes []*dynamodb.TransactWriteItemsInput
	record := func(fail func(*dynamodb.TransactWriteItemsInput) bool) func(*dynamodb.TransactWriteItemsInput) bool {
		return func(in *dynamodb.TransactWriteItemsInput) bool {
			failed := fail != nil && fail(in)
			if !failed {
				mu.Lock()
				writes = append(writes, in)
				mu.Unlock()
			}
			return failed
		}
	}

	// A new attempt whose card cannot be decrypted: claim, then abandon.
	ps.wire(failingKMS{KMS: kms.NewFromConfig(ps.s.Env.AWS)})
	ps.db.FailWhen(record(nil))
	if status, body := ps.pay.Do("POST", "/v1/invoices/"+kmsDown.ID+"/pay", payBody(tok)); status != 503 {
		t.Fatalf("pay with KMS down: %d %s", status, body)
	}
	// A charge whose commit fails: claim, then the lease cut short; the retry takes the claim over.
	ps.wire(nil)
	ps.db.FailWhen(record(stacktest.First(1, stacktest.SettlesPaid)))
	if status, body := ps.pay.Do("POST", "/v1/invoices/"+crashed.ID+"/pay", payBody(tok)); status != 503 {
		t.Fatalf("pay with the commit failing: %d %s", status, body)
	}
	if status, body := ps.pay.Do("POST", "/v1/invoices/"+crashed.ID+"/pay", payBody(tok)); status != 200 {
		t.Fatalf("retry: %d %s", status, body)
	}

	auditTable := ps.s.Env.Config.AuditTable
	billingTable := ps.s.Env.Config.BillingTable
	events := map[string]bool{}
	for i, in := range writes {
		var changesBilling bool
		var recs []audit.Record
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil && aws.ToString(it.Put.TableName) == auditTable:
				rec, err := audit.Decode(it.Put.Item)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rec)
			case it.Update != nil && aws.ToString(it.Update.TableName) == billingTable,
				it.Delete != nil && aws.ToString(it.Delete.TableName) == billingTable,
				it.Put != nil && aws.ToString(it.Put.TableName) == billingTable:
				changesBilling = true
			}
		}
		if changesBilling && len(recs) == 0 {
			t.Errorf("write %d changes the billing table without an audit record: %d items", i, len(in.TransactItems))
		}
		for _, rec := range recs {
			events[rec.EventName] = true
			types := []string{}
			for _, r := range rec.Resources {
				types = append(types, r.Type)
			}
			if !slices.Contains(types, "vaultbill::invoice") || !slices.Contains(types, "vaultbill::payment") {
				t.Errorf("record %s names %v, want the invoice and the payment", rec.EventName, rec.Resources)
			}
		}
	}
	for _, name := range []string{"ClaimInvoice", "AbandonPayment", "ExpirePaymentClaim", "TakeOverPaymentClaim", "PayInvoice"} {
		if !events[name] {
			t.Errorf("no %s record among the writes (have %v)", name, events)
		}
	}
}
