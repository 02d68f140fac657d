package reliability_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
)

// TestInvariantsCatchTampering: the checker is not vacuous. A paid invoice passes; the same invoice with
// its amount_paid changed behind the API (money the processor's records do not account for) fails,
// naming the invoice.
func TestInvariantsCatchTampering(t *testing.T) {
	fs := newFaultStack(t, 1)
	billingTok, payTok := fs.token("billing"), fs.token("payments")
	_, body := fs.do(billingTok, "POST", "/v1/customers", `{"name":"Ada","email":"ada@example.com"}`, "")
	cus := decode[billing.Customer](t, body).ID
	_, body = fs.do(payTok, "POST", "/v1/tokens", fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2034,"cvc":"123"}}`, cus, processor.TestVisa), "")
	card := decode[struct{ ID string }](t, body).ID
	_, body = fs.do(billingTok, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":1,"unit_amount":1999,"tax_rate_bps":0}]}`, cus), "")
	inv := decode[billing.Invoice](t, body).ID
	fs.do(billingTok, "POST", "/v1/invoices/"+inv+"/finalize", "", "k1")
	if status, body := fs.do(payTok, "POST", "/v1/invoices/"+inv+"/pay", fmt.Sprintf(`{"token":%q}`, card), ""); status != 200 {
		t.Fatalf("pay: %d %s", status, body)
	}
	if broken := invariants(fs); len(broken) > 0 {
		t.Fatalf("a clean run breaks invariants: %v", broken)
	}

	_, err := fs.raw.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(fs.s.Env.Config.BillingTable),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "INV#" + inv}, "sk": &types.AttributeValueMemberS{Value: "INV"}},
		UpdateExpression:          aws.String("SET amount_paid = amount_paid + :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Join(invariants(fs), "\n")
	if !strings.Contains(broken, inv+": charges 1999 − refunds 0 ≠ amount_paid 2000") {
		t.Errorf("tampered amount_paid not reported: %s", broken)
	}
}
