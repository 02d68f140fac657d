package invoices_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestPersonalDataIsSealedPerCustomer: a customer's name, email, address and tax id are returned to
// the caller but stored nowhere in clear (no table, no bucket object version, no log line); the
// customer item holds them sealed, and its key is an item of its own.
func TestPersonalDataIsSealedPerCustomer(t *testing.T) {
	s := stacktest.New(t)
	bill := newClient(t, s, "billing", "")
	const name, email, street, taxID = "Ada Quintessa Lovelace", "ada.quintessa@example.org", "12 Analytical Engine Row", "GB987654321"
	// Created with an Idempotency-Key: the kept response is personal data too, and its replay works.
	body := `{"name":"` + name + `","email":"` + email + `","address":{"line1":"` + street + `","city":"London","postal_code":"N1 9GU","country":"GB"},"tax_id":"` + taxID + `"}`
	status, first, _ := bill.Send("POST", "/v1/customers", body, "Idempotency-Key", "create-ada")
	if status != 201 {
		t.Fatalf("create: %d %s", status, first)
	}
	status, again, resp := bill.Send("POST", "/v1/customers", body, "Idempotency-Key", "create-ada")
	if status != 201 || again != first || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s (%q), want the first response %s", status, again, resp.Header.Get("Idempotent-Replayed"), first)
	}
	var cus billing.Customer
	decodeInto(t, first, &cus)
	var got billing.Customer
	bill.Must(200, "GET", "/v1/customers/"+cus.ID, "", &got)
	if got.Name != name || got.Email != email || got.Address == nil || got.Address.Line1 != street || got.TaxID == nil || *got.TaxID != taxID {
		t.Fatalf("read back %+v", got)
	}
	const newEmail = "ada.renamed@example.org"
	bill.Must(200, "PATCH", "/v1/customers/"+cus.ID, `{"email":"`+newEmail+`"}`, &got)
	var list struct{ Data []billing.Customer }
	bill.Must(200, "GET", "/v1/customers", "", &list)
	if len(list.Data) != 1 || list.Data[0].Email != newEmail || list.Data[0].Name != name {
		t.Fatalf("list: %+v", list.Data)
	}
	own := newClient(t, s, "customer", cus.ID)
	own.Must(200, "GET", "/v1/customers/"+cus.ID, "", &got)
	if got.Email != newEmail {
		t.Fatalf("own read: %+v", got)
	}

	if found := stacktest.StringsAtRest(t, s, name, email, newEmail, street, taxID); len(found) > 0 {
		t.Errorf("personal data in clear at rest:\n%s", strings.Join(found, "\n"))
	}
	var sealed, keys int
	for _, it := range billingItems(t, s) {
		pk := it["pk"].(*types.AttributeValueMemberS).Value
		switch pk {
		case "CUS#" + cus.ID:
			if _, ok := it["personal"].(*types.AttributeValueMemberB); ok {
				sealed++
			}
			for _, a := range []string{"name", "email", "address", "tax_id"} {
				if _, ok := it[a]; ok {
					t.Errorf("customer item has attribute %s", a)
				}
			}
		case "CKEY#" + cus.ID:
			keys++
		}
	}
	if sealed != 1 || keys != 1 {
		t.Errorf("sealed customer items %d, key items %d; want 1 and 1", sealed, keys)
	}
}

// TestCustomerReadsRarelyCallKMS counts the KMS calls of customer reads once a function instance has
// unwrapped the keys: none per read in steady state, one Decrypt per customer the first time.
func TestCustomerReadsRarelyCallKMS(t *testing.T) {
	s := stacktest.New(t)
	bill := newClient(t, s, "billing", "")
	var ids []string
	for _, n := range []string{"Kms One", "Kms Two", "Kms Three"} {
		ids = append(ids, bill.Customer(n).ID)
	}
	env := s.Env
	var calls *stacktest.Calls
	env.AWS, calls = stacktest.CountCalls(s.Env.AWS)
	rewire(t, s, env) // a cold instance: an empty cache
	const rounds = 20
	for range rounds {
		for _, id := range ids {
			bill.Must(200, "GET", "/v1/customers/"+id, "", nil)
		}
	}
	bill.Must(200, "GET", "/v1/customers", "", nil)
	got := calls.TakeService("KMS")
	if got["Decrypt"] != len(ids) || len(got) != 1 {
		t.Errorf("KMS calls for %d reads of %d customers and a list: %v; want %d Decrypt (one per customer)", rounds*len(ids), len(ids), got, len(ids))
	}
	t.Logf("KMS calls per customer read in steady state: %.3f", float64(got["Decrypt"])/float64(rounds*len(ids)+1))
}
