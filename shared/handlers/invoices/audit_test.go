package invoices_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestEveryChangeLeavesOneAuditRecord checks that each change wrote exactly one audit record naming
// what it touched, and that no personal data reached the audit trail or the logs.
func TestEveryChangeLeavesOneAuditRecord(t *testing.T) {
	s := stacktest.New(t)
	bill := newClient(t, s, "billing", "")
	pii := []string{"Grace Hopper", "grace@navy.example", "Arlington", "22201", "1 Pentagon Blvd", "US-TAX-77"}

	type change struct{ op, method, path, requestID, objectID string }
	var changes []change
	run := func(op, method, path, body string) map[string]any {
		status, resp, hr := bill.Send(method, path, body)
		if status >= 300 {
			t.Fatalf("%s: %d %s", op, status, resp)
		}
		var out map[string]any
		_ = json.Unmarshal([]byte(resp), &out)
		id, _ := out["id"].(string)
		changes = append(changes, change{op, method, path, hr.Header.Get("X-Amzn-RequestId"), id})
		return out
	}
	cus := run("CreateCustomer", "POST", "/v1/customers", `{"name":"Grace Hopper","email":"grace@navy.example","tax_id":"US-TAX-77",
		"address":{"line1":"1 Pentagon Blvd","city":"Arlington","postal_code":"22201","country":"US"}}`)
	cusID := cus["id"].(string)
	run("UpdateCustomer", "PATCH", "/v1/customers/"+cusID, `{"name":"Grace Hopper"}`)
	inv := run("CreateInvoice", "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"USD","lines":[{"description":"COBOL","quantity":1,"unit_amount":100}]}`, cusID))
	invID := inv["id"].(string)
	run("UpdateInvoice", "PATCH", "/v1/invoices/"+invID, `{"memo":"m"}`)
	run("FinalizeInvoice", "POST", "/v1/invoices/"+invID+"/finalize", "")
	run("MarkInvoiceUncollectible", "POST", "/v1/invoices/"+invID+"/mark-uncollectible", "")
	run("VoidInvoice", "POST", "/v1/invoices/"+invID+"/void", "")
	d := run("CreateInvoice", "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"USD","lines":[{"description":"x","quantity":1,"unit_amount":1}]}`, cusID))
	run("DeleteInvoice", "DELETE", "/v1/invoices/"+d["id"].(string), "")

	recs := auditRecords(t, s)
	for _, c := range changes {
		var mine []string
		var resources string
		for _, r := range recs {
			if r.RequestID == c.requestID {
				mine = append(mine, r.EventName)
				b, _ := json.Marshal(r.Resources)
				resources = string(b)
			}
		}
		if len(mine) != 1 || mine[0] != c.op {
			t.Errorf("%s %s left audit records %v, want one %s", c.method, c.path, mine, c.op)
		}
		if c.objectID == "" || !strings.Contains(resources, `"id":"`+c.objectID+`"`) {
			t.Errorf("%s: audit resources %s do not name %q", c.op, resources, c.objectID)
		}
	}
	raw, _ := json.Marshal(scan(t, s, s.Env.Config.AuditTable))
	logs := stacktest.Logs.String()
	for _, v := range pii {
		if strings.Contains(string(raw), v) {
			t.Errorf("audit table holds personal data %q", v)
		}
		if strings.Contains(logs, v) {
			t.Errorf("logs hold personal data %q", v)
		}
	}
}

// TestChangeAndAuditCommitTogether makes the audit write of a finalize fail: the request fails, the
// invoice stays a draft, and the number is not consumed, because the change, the counter and the
// record are one transaction.
func TestChangeAndAuditCommitTogether(t *testing.T) {
	s := stacktest.New(t)
	bill := newClient(t, s, "billing", "")
	inv := bill.Draft(bill.Customer("Atomic").ID)

	broken := s.Env
	broken.AWS = s.Env.AWS.Copy()
	auditTable := s.Env.Config.AuditTable
	broken.AWS.APIOptions = append(broken.AWS.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("breakAudit", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if tw, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
				for _, it := range tw.TransactItems {
					if it.Put != nil && aws.ToString(it.Put.TableName) == auditTable {
						it.Put.TableName = aws.String(auditTable + "-missing")
					}
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
	})
	rewire(t, s, broken)
	status, body, _ := bill.Send("POST", "/v1/invoices/"+inv.ID+"/finalize", "")
	if status < 500 {
		t.Fatalf("finalize without its audit record: %d %s", status, body)
	}
	rewire(t, s, s.Env)
	var got billing.Invoice
	bill.Must(200, "GET", "/v1/invoices/"+inv.ID, "", &got)
	if got.Status != billing.Draft || got.Number != nil {
		t.Fatalf("after the failed transaction the invoice is %s %v", got.Status, got.Number)
	}
	bill.Must(200, "POST", "/v1/invoices/"+inv.ID+"/finalize", "", &got)
	if *got.Number != "INV-000001" {
		t.Errorf("number %s after a failed finalize, want INV-000001", *got.Number)
	}
}
