package datarights_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// TestErasedCardholderNameIsNotInACopyOfTheVault is the attack on a copy of the vault table taken
// before an erasure (a point-in-time or AWS Backup restore made outside `vaultbill restore`, which
// re-applies no erasure): whoever holds the copy and can use the vault key opens every token's
// payload as the vault does. After the customer's key is destroyed, no cardholder name of that
// customer may be in what they get.
func TestErasedCardholderNameIsNotInACopyOfTheVault(t *testing.T) {
	s := stacktest.New(t)
	const holder = "Hermione Holder"
	id, _ := customerWithHistory(t, s, "Carla Customer", "carla.customer@example.com")
	pay := as(t, s, "payments", "")
	var tok obj
	pay.Must(201, "POST", "/v1/tokens", fmt.Sprintf(`{"customer_id":%q,"card":{"number":"5555555555554444","exp_month":12,"exp_year":2041,"name":%q}}`, id, holder), &tok)

	// At rest before the erasure: no cardholder name in clear in any table, bucket or log.
	if found := stacktest.StringsAtRest(t, s, holder, "Carla Customer"); len(found) > 0 {
		t.Errorf("cardholder names at rest in clear:\n%s", strings.Join(found, "\n"))
	}
	vaultTable := s.Env.Config.VaultTable
	copied := stacktest.Items(t, s, vaultTable) // the copy, as the table was before the erasure
	as(t, s, "billing", "").Must(200, "POST", "/v1/invoices/"+last.open+"/void", "", nil)
	as(t, s, "admin", "").Must(200, "POST", "/v1/customers/"+id+"/erase", "", nil)

	// The attacker's tools: the vault key through KMS, as the vault uses it.
	cards := envelope.New(kms.NewFromConfig(s.Env.AWS), s.Env.Config.VaultKeyID, vault.CardDataContext)
	defer cards.Close()
	opened := 0
	for _, it := range copied {
		tokenID, ok := it["id"].(*types.AttributeValueMemberS)
		if !ok || !strings.HasPrefix(tokenID.Value, "tok_") || !strings.Contains(fmt.Sprint(it["customerId"]), id) {
			continue
		}
		sealed := envelope.Sealed{
			Ciphertext: it["ciphertext"].(*types.AttributeValueMemberB).Value,
			WrappedKey: it["wrappedKey"].(*types.AttributeValueMemberB).Value,
			KeyID:      it["keyId"].(*types.AttributeValueMemberS).Value,
		}
		plain, err := cards.Open(t.Context(), sealed, []byte(tokenID.Value))
		if err != nil {
			t.Fatalf("the copy of token %s does not open with the vault key: %v", tokenID.Value, err)
		}
		opened++
		for _, name := range []string{holder, "Carla Customer"} {
			if bytes.Contains(plain, []byte(name)) {
				t.Errorf("token %s of the erased customer: the cardholder name %q is readable from a copy of the vault with the vault key", tokenID.Value, name)
			}
		}
		clear(plain)
	}
	if opened != 2 {
		t.Fatalf("opened %d tokens of the customer in the copy, want 2 (%s and the paid card)", opened, tok.ID)
	}
}
