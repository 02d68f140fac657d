package tokens_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	cardwiring "github.com/vaultbill/vaultbill/shared/wiring/cards"
)

// TestCardholderNameNeedsTheCustomerKey: a cardholder name is sealed under the customer's own key, so
// revealing it needs that key: without it (the customer's key destroyed, a token left behind in a
// restored copy) the reveal fails closed, while a card stored without a name still opens. A token
// stored before names were sealed this way (payload version 1) still reveals its name, and a customer
// that has no key yet (stored before per-customer keys, not migrated) gets no named card.
func TestCardholderNameNeedsTheCustomerKey(t *testing.T) {
	s := stacktest.New(t)
	const alice = "cus_aliceaaaaaaaaaaaaaaaaaaaaa"
	seedCustomer(t, s, alice)
	pay := stacktest.Token(t, s, devstack.TokenSpec{Role: "payments"})
	tokenize := func(customer, number, name string) (int, string) {
		resp, body := stacktest.Do(t, s, "POST", "/v1/tokens", pay,
			fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2034,"name":%q}}`, customer, number, name))
		return resp.StatusCode, body
	}
	status, body := tokenize(alice, visa, "Ada Lovelace")
	if status != http.StatusCreated {
		t.Fatalf("tokenize: %d %s", status, body)
	}
	named := decode[tokens.TokenResponse](t, body).ID
	status, body = tokenize(alice, "5555555555554444", "")
	if status != http.StatusCreated {
		t.Fatalf("tokenize without a name: %d %s", status, body)
	}
	unnamed := decode[tokens.TokenResponse](t, body).ID
	status, body = tokenize(alice, amex, "Old Holder")
	if status != http.StatusCreated {
		t.Fatalf("tokenize: %d %s", status, body)
	}
	old := decode[tokens.TokenResponse](t, body).ID

	// The third token as a version 1 token holds it: the name in clear inside the card payload.
	ctx := context.Background()
	db := dynamodb.NewFromConfig(s.Env.AWS)
	cards := envelope.New(kms.NewFromConfig(s.Env.AWS), s.Env.Config.VaultKeyID, vault.CardDataContext)
	defer cards.Close()
	v1 := append(append([]byte{1, byte(len(amex))}, amex...), append([]byte{0, byte(len("Old Holder"))}, "Old Holder"...)...)
	sealed, err := cards.Seal(ctx, v1, []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Env.Config.VaultTable),
		Key: map[string]types.AttributeValue{
			resources.PK: &types.AttributeValueMemberS{Value: "TOK#" + old}, resources.SK: &types.AttributeValueMemberS{Value: "TOK"},
		},
		UpdateExpression: aws.String("SET ciphertext = :c, wrappedKey = :w, keyId = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":c": &types.AttributeValueMemberB{Value: sealed.Ciphertext}, ":w": &types.AttributeValueMemberB{Value: sealed.WrappedKey},
			":k": &types.AttributeValueMemberS{Value: sealed.KeyID},
		},
	}); err != nil {
		t.Fatal(err)
	}

	rec := audit.Record{EventVersion: audit.EventVersion, EventSource: "payments.vaultbill", RequestID: "req-holder",
		UserIdentity: audit.UserIdentity{Type: "CognitoUser", PrincipalID: "payments-user"}}
	reveal := func(id string) (string, error) {
		c, err := cardwiring.Vault(s.Env, db).Reveal(ctx, vault.RevealRequest{TokenID: id, CustomerID: alice, Record: rec})
		defer c.Zero()
		return c.Name, err
	}
	for id, want := range map[string]string{named: "Ada Lovelace", unnamed: "", old: "Old Holder"} {
		if got, err := reveal(id); err != nil || got != want {
			t.Errorf("reveal %s: name %q %v, want %q", id, got, err, want)
		}
	}

	// The customer's key destroyed, its tokens left (as in a copy restored without the erasure ledger).
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Env.Config.BillingTable), Key: customerkeys.ItemKey(alice),
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := reveal(named); !isCode(err, "customer_erased") || got != "" {
		t.Errorf("reveal of a named card without its customer's key: %q %v, want customer_erased", got, err)
	}
	if _, err := reveal(unnamed); err != nil {
		t.Errorf("reveal of an unnamed card without its customer's key: %v", err)
	}

	// A customer without a key gets no named card, and a card without a name as before.
	const bob = "cus_bobaaaaaaaaaaaaaaaaaaaaaaa"
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Env.Config.BillingTable), Item: map[string]types.AttributeValue{
		resources.PK: &types.AttributeValueMemberS{Value: "CUS#" + bob}, resources.SK: &types.AttributeValueMemberS{Value: "CUS"},
	}}); err != nil {
		t.Fatal(err)
	}
	if status, body := tokenize(bob, visa, "Bob Unmigrated"); status != http.StatusConflict || decode[httpapi.Problem](t, body).Code != "invalid_state" {
		t.Errorf("named card for a customer without a key: %d %s, want 409 invalid_state", status, body)
	}
	if n := countTokens(t, s); n != 3 {
		t.Errorf("vault holds %d tokens after the refusal, want alice's 3", n)
	}
	if status, body := tokenize(bob, visa, ""); status != http.StatusCreated {
		t.Errorf("card without a name for a customer without a key: %d %s", status, body)
	}
}
