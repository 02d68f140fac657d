package datarights_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/erasures"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

type customerBody struct {
	ID       string  `json:"id"`
	Name     *string `json:"name"`
	Email    *string `json:"email"`
	Address  any     `json:"address"`
	TaxID    *string `json:"tax_id"`
	Erased   bool    `json:"erased"`
	ErasedAt *string `json:"erased_at"`
}

func code(t *testing.T, body string) string {
	t.Helper()
	var p struct{ Code string }
	_ = json.Unmarshal([]byte(body), &p)
	return p.Code
}

// TestErasure: refused while an invoice is open; then the customer reads as erased on every path,
// its tokens are gone, nothing can be done for it, its invoices stay, and no personal data or key
// of it is left at rest. The ledger holds ids and a time only.
func TestErasure(t *testing.T) {
	s := stacktest.New(t)
	const name, email = "Erin Erasable", "erin.erasable@example.com"
	id, _ := customerWithHistory(t, s, name, email)
	h := last
	admin, bill, pay := as(t, s, "admin", ""), as(t, s, "billing", ""), as(t, s, "payments", "")
	erase := "/v1/customers/" + id + "/erase"

	for _, c := range []*caller{bill, pay, as(t, s, "auditor", ""), as(t, s, "customer", id)} {
		if status, _ := c.Do("POST", erase, ""); status != 403 {
			t.Errorf("erase by a non-admin: %d, want 403", status)
		}
	}
	if status, body := admin.Do("POST", erase, ""); status != 409 || code(t, body) != "invalid_state" {
		t.Fatalf("erase with an open invoice: %d %s, want 409 invalid_state", status, body)
	}
	bill.Must(200, "POST", "/v1/invoices/"+h.open+"/void", "", nil)

	var erased customerBody
	admin.Must(200, "POST", erase, "", &erased)
	if !erased.Erased || erased.ErasedAt == nil || erased.Name != nil || erased.Email != nil || erased.Address != nil || erased.TaxID != nil {
		t.Fatalf("erased customer: %+v", erased)
	}
	var again customerBody
	admin.Must(200, "POST", erase, "", &again)
	if !again.Erased || *again.ErasedAt != *erased.ErasedAt {
		t.Errorf("repeated erasure: %+v", again)
	}

	// Every read path.
	var got customerBody
	for _, c := range []*caller{admin, bill, as(t, s, "customer", id)} {
		c.Must(200, "GET", "/v1/customers/"+id, "", &got)
		if !got.Erased || got.Name != nil || got.Email != nil {
			t.Errorf("read after erasure: %+v", got)
		}
	}
	var list struct{ Data []customerBody }
	bill.Must(200, "GET", "/v1/customers", "", &list)
	if len(list.Data) != 1 || !list.Data[0].Erased || list.Data[0].Name != nil {
		t.Errorf("list after erasure: %+v", list.Data)
	}
	var invoices struct{ Data []struct{ ID string } }
	bill.Must(200, "GET", "/v1/invoices?customer_id="+id, "", &invoices)
	if len(invoices.Data) != 3 {
		t.Errorf("invoices after erasure: %d, want the 3 kept for accounting", len(invoices.Data))
	}
	status, body := admin.Do("GET", "/v1/customers/"+id+"/export", "")
	if status != 200 || strings.Contains(body, name) || strings.Contains(body, email) || !strings.Contains(body, `"tokens":[]`) {
		t.Errorf("export after erasure: %d %s", status, body)
	}
	var toks struct{ Data []any }
	pay.Must(200, "GET", "/v1/customers/"+id+"/tokens", "", &toks)
	if len(toks.Data) != 0 {
		t.Errorf("tokens after erasure: %v", toks.Data)
	}
	if status, _ := pay.Do("GET", "/v1/tokens/"+h.token, ""); status != 404 {
		t.Errorf("old token after erasure: %d, want 404", status)
	}
	bill.Must(200, "POST", "/v1/invoices/"+h.draft+"/finalize", "", nil)
	if status, body := pay.Do("POST", "/v1/invoices/"+h.draft+"/pay", fmt.Sprintf(`{"token":%q}`, h.token)); status < 400 || status >= 500 {
		t.Errorf("pay with the erased customer's old token: %d %s, want a refusal", status, body)
	}

	// Nothing more for it.
	for _, r := range []struct {
		caller             *caller
		method, path, body string
	}{
		{bill, "PATCH", "/v1/customers/" + id, `{"name":"Back Again"}`},
		{bill, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"x","quantity":1,"unit_amount":1}]}`, id)},
		{pay, "POST", "/v1/tokens", fmt.Sprintf(`{"customer_id":%q,"card":{"number":"5555555555554444","exp_month":12,"exp_year":2040}}`, id)},
	} {
		if status, body := r.caller.Do(r.method, r.path, r.body); status != 409 || code(t, body) != "customer_erased" {
			t.Errorf("%s %s: %d %s, want 409 customer_erased", r.method, r.path, status, body)
		}
	}

	// At rest: no personal data, no key, no personal attribute; the ledger has ids and a time.
	if found := stacktest.StringsAtRest(t, s, name, email); len(found) > 0 {
		t.Errorf("personal data at rest after erasure:\n%s", strings.Join(found, "\n"))
	}
	assertShredded(t, s, s.Env.Config.BillingTable, s.Env.Config.VaultTable, id)
	entries, err := (&erasures.Ledger{S3: s3client.New(s.Env.AWS), Bucket: s.Env.Config.BackupBucket}).All(t.Context())
	if err != nil || len(entries) != 1 || entries[0].CustomerID != id || entries[0].PrincipalID == "" || entries[0].ErasedAt != *erased.ErasedAt {
		t.Errorf("ledger: %+v %v", entries, err)
	}
}

// assertShredded checks the tables hold no key, no personal data and no token of customer id.
func assertShredded(t *testing.T, s *devstack.Stack, billingTable, vaultTable, id string) {
	t.Helper()
	db := dynamodb.NewFromConfig(s.Env.AWS)
	for _, table := range []string{billingTable, vaultTable} {
		out, err := db.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			pk := it["pk"].(*types.AttributeValueMemberS).Value
			switch {
			case pk == "CKEY#"+id:
				t.Errorf("%s: the erased customer's key is still there", table)
			case pk == "CUS#"+id && table == billingTable:
				if _, ok := it["personal"]; ok {
					t.Errorf("%s: the erased customer still has sealed personal data", table)
				}
			case table == vaultTable && strings.Contains(fmt.Sprint(it), id):
				t.Errorf("%s: item %s of the erased customer is still there", table, pk)
			}
		}
	}
}
