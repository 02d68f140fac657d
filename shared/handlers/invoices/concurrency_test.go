package invoices_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
)

// TestConcurrentFinalizesGetConsecutiveNumbers finalizes 20 drafts at once: every one gets a number,
// and the numbers are exactly 1..20, with no gap and no duplicate.
func TestConcurrentFinalizesGetConsecutiveNumbers(t *testing.T) {
	s := concurrentStack(t)
	bill := newClient(t, s, "billing", "")
	cus := bill.Customer("Concurrent")
	const n = 20
	drafts := make([]billing.Invoice, n)
	for i := range drafts {
		drafts[i] = bill.Draft(cus.ID)
	}
	numbers := make([]string, n)
	var wg sync.WaitGroup
	for i := range drafts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, _ := bill.Send("POST", "/v1/invoices/"+drafts[i].ID+"/finalize", "")
			if status != 200 {
				t.Errorf("finalize %s: %d %s", drafts[i].ID, status, body)
				return
			}
			var inv billing.Invoice
			bill.Must(200, "GET", "/v1/invoices/"+drafts[i].ID, "", &inv)
			if inv.Number != nil {
				numbers[i] = *inv.Number
			}
		}()
	}
	wg.Wait()
	sort.Strings(numbers)
	for i, got := range numbers {
		if want := fmt.Sprintf("INV-%06d", i+1); got != want {
			t.Errorf("numbers %v: position %d is %q, want %q", numbers, i, got, want)
			break
		}
	}
	// Each finalize left one audit record naming its invoice once, however many races it lost.
	finalized := 0
	for _, r := range auditRecords(t, s) {
		if r.EventName == "FinalizeInvoice" && r.ErrorCode == "" {
			finalized++
			if len(r.Resources) != 1 {
				t.Errorf("finalize audit resources %+v", r.Resources)
			}
		}
	}
	if finalized != n {
		t.Errorf("%d successful finalize audit records, want %d", finalized, n)
	}
}

// TestOneDraftFinalizedConcurrently sends the same finalize ten times at once: exactly one succeeds,
// the others are told the invoice is no longer a draft, and one number is used.
func TestOneDraftFinalizedConcurrently(t *testing.T) {
	s := concurrentStack(t)
	bill := newClient(t, s, "billing", "")
	inv := bill.Draft(bill.Customer("Racer").ID)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, _ := bill.Send("POST", "/v1/invoices/"+inv.ID+"/finalize", "")
			if status != 200 {
				if p := decodeProblem(t, body); p.Code != "invoice_not_draft" {
					t.Errorf("losing finalize: %d %s", status, body)
				}
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[409] != 9 {
		t.Errorf("statuses %v, want one 200 and nine 409", statuses)
	}
	// The next finalize gets number 2: the nine losers consumed none.
	next := bill.Draft(inv.CustomerID)
	bill.Must(200, "POST", "/v1/invoices/"+next.ID+"/finalize", "", &next)
	if *next.Number != "INV-000002" {
		t.Errorf("next number %s, want INV-000002", *next.Number)
	}
}
