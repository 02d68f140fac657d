package costrun

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/cost"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// TestRoutesAreMeteredOnTheEmulator runs the scenario once and checks what an operator would expect
// of the bill: writes cost write units, a read writes nothing but its audit record, the authorizer
// runs before every route but the hosted page's, and only the card routes call KMS for the card.
func TestRoutesAreMeteredOnTheEmulator(t *testing.T) {
	rep, err := Run(context.Background(), Options{Endpoint: stacktest.Endpoint(t), StateDir: t.TempDir(), Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]Measured{}
	for _, m := range rep.Routes {
		routes[m.Name] = m
	}
	fin := routes["FinalizeInvoice"]
	if fin.Usage.DynamoDBWriteUnits <= 0 || fin.Usage.LambdaMBms <= 0 {
		t.Errorf("FinalizeInvoice used %+v, want write units and Lambda time", fin.Usage)
	}
	me := routes["GetMe"]
	for k := range me.Calls {
		if strings.HasPrefix(k, "DynamoDB ") && k != "DynamoDB GetItem" && k != "DynamoDB PutItem" {
			t.Errorf("GET /v1/me made %s", k)
		}
	}
	if n := me.Calls["DynamoDB PutItem"]; n != 1 {
		t.Errorf("GET /v1/me wrote %d items, want its one audit record", n)
	}
	if me.Usage.LambdaInvocations != 2 || me.Usage.APIRequests != 1 {
		t.Errorf("GET /v1/me: %d invocations for %d requests, want the authorizer and the handler", me.Usage.LambdaInvocations, me.Usage.APIRequests)
	}
	if page := routes["GetHostedInvoicePage"]; page.Usage.LambdaInvocations != 1 {
		t.Errorf("the hosted page took %d invocations, want 1: its link is the credential, no authorizer runs", page.Usage.LambdaInvocations)
	}
	if pay := routes["PayInvoice"]; pay.Calls["KMS Decrypt"] < 1 {
		t.Errorf("paying made no KMS Decrypt: %v", pay.Calls)
	}
	if routes["GetInvoice"].Usage.KMSRequests != 0 {
		t.Errorf("reading an invoice called KMS: %v", routes["GetInvoice"].Calls)
	}
	if len(rep.Jobs) != 4 || rep.ShippedPerRequest <= 0 {
		t.Errorf("jobs %v, %.2f records shipped per request", rep.Jobs, rep.ShippedPerRequest)
	}
	var out bytes.Buffer
	if err := Print(&out, cost.USEast1, rep, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "FinalizeInvoice") || !strings.Contains(out.String(), "audit-digest") {
		t.Errorf("report lacks routes or jobs:\n%s", out.String())
	}
}

// TestItemSizesFollowDynamoDBRules: names and values count, numbers about a byte per two digits,
// and units round up per KB written and per 4 KB read.
func TestItemSizesFollowDynamoDBRules(t *testing.T) {
	item := map[string]types.AttributeValue{
		"pk":    &types.AttributeValueMemberS{Value: "cus_123"}, // 2 + 7
		"total": &types.AttributeValueMemberN{Value: "12345"},   // 5 + 4
		"paid":  &types.AttributeValueMemberBOOL{Value: true},   // 4 + 1
		"lines": &types.AttributeValueMemberL{Value: []types.AttributeValue{ // 5 + 3 + (1 + 2)
			&types.AttributeValueMemberS{Value: "ab"}}},
	}
	if got, want := itemsSize(item), int64(9+9+5+11); got != want {
		t.Errorf("itemsSize = %d, want %d", got, want)
	}
	for size, want := range map[int64]int64{0: 1, 1: 1, 1024: 1, 1025: 2, 3000: 3} {
		if got := writeUnits(size); got != want {
			t.Errorf("writeUnits(%d) = %d, want %d", size, got, want)
		}
	}
	if got := readHalves(5000, false, 1); got != 2 {
		t.Errorf("an eventually consistent 5000-byte read: %d halves, want 2 (1 unit)", got)
	}
	if got := readHalves(100, true, 2); got != 4 {
		t.Errorf("a transactional 100-byte read: %d halves, want 4 (2 units)", got)
	}
}
