package tokens_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/adapters/idempotency"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	cardwiring "github.com/vaultbill/vaultbill/shared/wiring/cards"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

const (
	visa   = "4242424242424242"
	amex   = "378282246310005"
	amexCV = "7319"
)

// TestTokenizeStoresNoCardData tokenizes through the local gateway and then searches everything the
// stack stored, and everything it logged, for the card number in any form and for the cvc.
func TestTokenizeStoresNoCardData(t *testing.T) {
	s := stacktest.New(t)
	seedCustomer(t, s, "cus_aliceaaaaaaaaaaaaaaaaaaaaa")
	seedCustomer(t, s, "cus_bobaaaaaaaaaaaaaaaaaaaaaaa")
	pay := stacktest.Token(t, s, devstack.TokenSpec{Role: "payments"})

	req := createBody("cus_aliceaaaaaaaaaaaaaaaaaaaaa", amex, amexCV)
	resp, body := stacktest.Do(t, s, "POST", "/v1/tokens", pay, req, "Idempotency-Key", "k-1")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("tokenize: %d %s", resp.StatusCode, body)
	}
	first := decode[tokens.TokenResponse](t, body)
	resp, replay := stacktest.Do(t, s, "POST", "/v1/tokens", pay, req, "Idempotency-Key", "k-1")
	if resp.StatusCode != http.StatusCreated || replay != body || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry with the same Idempotency-Key: %d %s, want the first response replayed", resp.StatusCode, replay)
	}
	want := tokens.TokenResponse{Object: "token", CustomerID: "cus_aliceaaaaaaaaaaaaaaaaaaaaa", Card: tokens.CardResponse{
		Brand: "amex", BIN: "378282", Last4: "0005", ExpMonth: 12, ExpYear: 2034,
	}}
	if diff := cmp.Diff(want, first, cmpopts.IgnoreFields(tokens.TokenResponse{}, "ID", "CreatedAt"),
		cmpopts.IgnoreFields(tokens.CardResponse{}, "Fingerprint")); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(first.ID, "tok_") || len(first.ID) != 36 || len(first.Card.Fingerprint) != 43 {
		t.Errorf("id %q fingerprint %q", first.ID, first.Card.Fingerprint)
	}

	resp, body = stacktest.Do(t, s, "POST", "/v1/tokens", pay, createBody("cus_aliceaaaaaaaaaaaaaaaaaaaaa", amex, ""))
	again := decode[tokens.TokenResponse](t, body)
	if resp.StatusCode != http.StatusOK || again.ID != first.ID {
		t.Errorf("same card again: %d, token %s, want 200 and %s", resp.StatusCode, again.ID, first.ID)
	}
	resp, body = stacktest.Do(t, s, "POST", "/v1/tokens", pay, createBody("cus_bobaaaaaaaaaaaaaaaaaaaaaaa", amex, amexCV))
	bobs := decode[tokens.TokenResponse](t, body)
	if resp.StatusCode != http.StatusCreated || bobs.ID == first.ID || bobs.Card.Fingerprint != first.Card.Fingerprint {
		t.Errorf("same card, other customer: %d %s; want a new token with the same fingerprint", resp.StatusCode, body)
	}
	resp, body = stacktest.Do(t, s, "GET", "/v1/tokens/"+first.ID, pay, "")
	if got := decode[tokens.TokenResponse](t, body); resp.StatusCode != 200 || !cmp.Equal(got, first) {
		t.Errorf("GET token: %d %s", resp.StatusCode, body)
	}
	if countTokens(t, s) != 2 {
		t.Errorf("vault holds %d tokens, want 2", countTokens(t, s))
	}

	stored := everythingStored(t, s)
	// The idempotency record must not keep an unkeyed hash of a body that holds the card number.
	unkeyed := idempotency.Fingerprint("POST", "/v1/tokens", []byte(req))
	for _, secret := range append(secretForms(amex), `"`+amexCV+`"`, "="+amexCV+"\n", "Ada Lovelace", unkeyed) {
		if strings.Contains(stored, secret) {
			t.Errorf("storage holds %q", secret)
		}
	}
	for _, secret := range secretForms(amex)[:2] {
		if strings.Contains(stacktest.Logs.String(), secret) {
			t.Errorf("logs hold %q", secret)
		}
	}
}

// TestRevealIsBoundToItsToken shows the round trip payments will use, that each decryption is
// audited, and that a ciphertext moved onto another token does not decrypt.
func TestRevealIsBoundToItsToken(t *testing.T) {
	s := stacktest.New(t)
	seedCustomer(t, s, "cus_aliceaaaaaaaaaaaaaaaaaaaaa")
	pay := stacktest.Token(t, s, devstack.TokenSpec{Role: "payments"})
	ids := map[string]string{}
	for _, n := range []string{visa, "5555555555554444"} {
		resp, body := stacktest.Do(t, s, "POST", "/v1/tokens", pay, createBody("cus_aliceaaaaaaaaaaaaaaaaaaaaa", n, "123"))
		if resp.StatusCode != 201 {
			t.Fatalf("tokenize: %d %s", resp.StatusCode, body)
		}
		ids[n] = decode[tokens.TokenResponse](t, body).ID
	}
	db := dynamodb.NewFromConfig(s.Env.AWS)
	v := cardwiring.Vault(s.Env, db) // a fresh instance, as the payments function is
	ctx := context.Background()
	rec := audit.Record{EventVersion: audit.EventVersion, EventSource: "payments.vaultbill", RequestID: "req-1",
		UserIdentity: audit.UserIdentity{Type: "CognitoUser", PrincipalID: "payments-user"}}

	for n, id := range ids {
		c, err := v.Reveal(ctx, vault.RevealRequest{TokenID: id, CustomerID: "cus_aliceaaaaaaaaaaaaaaaaaaaaa", Record: rec})
		if err != nil || !c.Number.Equal(n) || c.Name != "Ada Lovelace" {
			t.Fatalf("Reveal %s: %v, %v", id, c, err)
		}
		c.Zero()
		if _, err := v.Reveal(ctx, vault.RevealRequest{TokenID: id, CustomerID: "cus_malloryaaaaaaaaaaaaaaaaaaa", Record: rec}); !isCode(err, "not_found") {
			t.Errorf("Reveal for another customer: %v, want not_found", err)
		}
	}
	var detokenized int
	out, _ := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.Env.Config.AuditTable)})
	for _, item := range out.Items {
		if r, _ := audit.Decode(item); r.EventName == vault.DetokenizeEvent && r.RequestID == "req-1" {
			detokenized++
		}
	}
	if detokenized != 2 {
		t.Errorf("%d Detokenize audit records, want 2 (one per decryption)", detokenized)
	}

	// Swap the two ciphertexts.
	a, b := ids[visa], ids["5555555555554444"]
	ca, cb := ciphertext(t, db, s, a), ciphertext(t, db, s, b)
	setCiphertext(t, db, s, a, cb)
	setCiphertext(t, db, s, b, ca)
	for _, id := range []string{a, b} {
		c, err := cardwiring.Vault(s.Env, db).Reveal(ctx, vault.RevealRequest{TokenID: id, CustomerID: "cus_aliceaaaaaaaaaaaaaaaaaaaaa", Record: rec})
		if !errors.Is(err, envelope.ErrOpen) {
			t.Errorf("Reveal of %s with the other token's ciphertext: %v %v, want ErrOpen", id, c, err)
		}
	}
}

func ciphertext(t *testing.T, db *dynamodb.Client, s *devstack.Stack, id string) types.AttributeValue {
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(s.Env.Config.VaultTable),
		Key:       map[string]types.AttributeValue{resources.PK: &types.AttributeValueMemberS{Value: "TOK#" + id}, resources.SK: &types.AttributeValueMemberS{Value: "TOK"}},
	})
	if err != nil || out.Item["ciphertext"] == nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return out.Item["ciphertext"]
}

func setCiphertext(t *testing.T, db *dynamodb.Client, s *devstack.Stack, id string, v types.AttributeValue) {
	_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Env.Config.VaultTable),
		Key:                       map[string]types.AttributeValue{resources.PK: &types.AttributeValueMemberS{Value: "TOK#" + id}, resources.SK: &types.AttributeValueMemberS{Value: "TOK"}},
		UpdateExpression:          aws.String("SET ciphertext = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": v},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func isCode(err error, code string) bool {
	return err != nil && string(httpapi.ProblemOf(err, "").Code) == code
}

// TestBadInput: every refusal names the field, stores nothing and never echoes the number.
func TestBadInput(t *testing.T) {
	s := stacktest.New(t)
	seedCustomer(t, s, "cus_aliceaaaaaaaaaaaaaaaaaaaaa")
	pay := stacktest.Token(t, s, devstack.TokenSpec{Role: "payments"})
	card := func(number, cvc string, month, year int) string {
		return `{"customer_id":"cus_aliceaaaaaaaaaaaaaaaaaaaaa","card":{"number":"` + number + `","exp_month":` + itoa(month) + `,"exp_year":` + itoa(year) + `,"cvc":"` + cvc + `"}}`
	}
	tests := []struct {
		name, body string
		status     int
		code       string
		field      string
	}{
		{"bad Luhn", card("4242424242424241", "123", 12, 2034), 422, "validation_failed", "card.number"},
		{"wrong length", card("424242424242424", "123", 12, 2034), 422, "validation_failed", "card.number"},
		{"letters", card("4242abcd42424242", "123", 12, 2034), 422, "validation_failed", "card.number"},
		{"empty number", card("", "123", 12, 2034), 422, "validation_failed", "card.number"},
		{"expired", card(visa, "123", 1, 2020), 422, "validation_failed", "card.exp_year"},
		{"2-digit cvc", card(visa, "12", 12, 2034), 422, "validation_failed", "card.cvc"},
		{"5-digit cvc", card(visa, "12345", 12, 2034), 422, "validation_failed", "card.cvc"},
		{"number as JSON number", `{"customer_id":"cus_aliceaaaaaaaaaaaaaaaaaaaaa","card":{"number":4242424242424242,"exp_month":12,"exp_year":2034}}`, 400, "validation_failed", "card.number"},
		{"unknown field", `{"customer_id":"cus_aliceaaaaaaaaaaaaaaaaaaaaa","card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"pin":"1234"}}`, 400, "validation_failed", "pin"},
		{"missing customer", strings.Replace(card(visa, "123", 12, 2034), "cus_aliceaaaaaaaaaaaaaaaaaaaaa", "cus_nobodyaaaaaaaaaaaaaaaaaaaa", 1), 404, "not_found", ""},
		{"no customer id", strings.Replace(card(visa, "123", 12, 2034), "cus_aliceaaaaaaaaaaaaaaaaaaaaa", "", 1), 422, "validation_failed", "customer_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := stacktest.Do(t, s, "POST", "/v1/tokens", pay, tt.body)
			p := decode[httpapi.Problem](t, body)
			if resp.StatusCode != tt.status || string(p.Code) != tt.code {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
				t.Errorf("errors %+v, want one for %s", p.Errors, tt.field)
			}
			for _, secret := range []string{"42424242", "4242abcd", "12345"} {
				if strings.Contains(body, secret) {
					t.Errorf("error body echoes %q: %s", secret, body)
				}
			}
		})
	}
	if n := countTokens(t, s); n != 0 {
		t.Errorf("refused requests stored %d tokens", n)
	}
	if strings.Contains(stacktest.Logs.String(), "4242424242424241") {
		t.Error("logs hold a rejected card number")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// failingKMS fails the calls that make card data keys, as KMS does when it is throttled or down.
type failingKMS struct {
	envelope.KMS
	failAll bool
}

func (f failingKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	if f.failAll || in.EncryptionContext["vaultbill:purpose"] == vault.CardDataContext["vaultbill:purpose"] {
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	return f.KMS.GenerateDataKey(ctx, in, opts...)
}

func (f failingKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if f.failAll {
		return nil, &smithy.GenericAPIError{Code: "KMSInternalException", Message: "internal"}
	}
	return f.KMS.Decrypt(ctx, in, opts...)
}

// TestKMSFailureStoresNothing: when KMS fails, tokenize answers 503 service_unavailable and nothing
// is stored, neither the token nor its card guard.
func TestKMSFailureStoresNothing(t *testing.T) {
	s := stacktest.New(t)
	seedCustomer(t, s, "cus_aliceaaaaaaaaaaaaaaaaaaaaa")
	real := kms.NewFromConfig(s.Env.AWS)
	for name, client := range map[string]envelope.KMS{
		"KMS down on a cold start":            failingKMS{KMS: real, failAll: true},
		"data keys refused, fingerprint fine": failingKMS{KMS: real},
	} {
		t.Run(name, func(t *testing.T) {
			svc, _ := serviceWith(t, s, client)
			resp, err := svc.Serve(context.Background(), event("POST", "/v1/tokens", "/v1/tokens", nil, paymentsUser, createBody("cus_aliceaaaaaaaaaaaaaaaaaaaaa", visa, "123")))
			if err != nil {
				t.Fatal(err)
			}
			p := decode[httpapi.Problem](t, resp.Body)
			if resp.StatusCode != 503 || p.Code != "service_unavailable" {
				t.Errorf("%d %s, want 503 service_unavailable", resp.StatusCode, resp.Body)
			}
			if strings.Contains(resp.Body, "4242") {
				t.Errorf("body echoes the number: %s", resp.Body)
			}
			stored := everythingStored(t, s)
			if countTokens(t, s) != 0 || strings.Contains(stored, "CARD#") {
				t.Errorf("a failed tokenization stored a token or a card guard")
			}
		})
	}
	// The same request with KMS back succeeds.
	svc, _ := serviceWith(t, s, real)
	resp, _ := svc.Serve(context.Background(), event("POST", "/v1/tokens", "/v1/tokens", nil, paymentsUser, createBody("cus_aliceaaaaaaaaaaaaaaaaaaaaa", visa, "123")))
	if resp.StatusCode != 201 {
		t.Errorf("after KMS recovered: %d %s", resp.StatusCode, resp.Body)
	}
}

// TestKMSEconomy: 1 000 tokenizations make at most 10 KMS calls. The 1 000 cards go through the
// vault's Tokenize (fingerprint, card guard read, seal: every KMS call a tokenization makes) against
// the emulator; the first 50 also go through the whole handler, whose transaction makes no KMS call.
// (The emulator copies every table on each transaction, so 1 000 handler calls would take minutes.)
func TestKMSEconomy(t *testing.T) {
	s := stacktest.New(t)
	// Two customers, 25 cards each through the handler, one principal per card: the card-attempt limit
	// (30 per principal and per customer) is not what this measures.
	customers := []string{"cus_aliceaaaaaaaaaaaaaaaaaaaaa", "cus_bobaaaaaaaaaaaaaaaaaaaaaaa"}
	for _, id := range customers {
		seedCustomer(t, s, id)
	}
	client, calls := countingKMS(s)
	svc, v := serviceWith(t, s, client)
	ctx := context.Background()
	for i := range 50 {
		staff := paymentsUser
		staff.ID += strconv.Itoa(i)
		resp, err := svc.Serve(ctx, event("POST", "/v1/tokens", "/v1/tokens", nil, staff, createBody(customers[i%2], cardNumber(i), "123")))
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("tokenization %d: %d %s %v", i, resp.StatusCode, resp.Body, err)
		}
	}
	for i := 50; i < 1000; i++ {
		c := validCard(t, cardNumber(i))
		tz, err := v.Tokenize(ctx, "cus_aliceaaaaaaaaaaaaaaaaaaaaa", c)
		if err != nil || tz.Existing || len(tz.Items) != 2 {
			t.Fatalf("tokenization %d: %+v %v", i, tz, err)
		}
	}
	if got := calls.Service("KMS"); got > 10 {
		t.Errorf("1 000 tokenizations made %d KMS calls, want at most 10", got)
	} else {
		t.Logf("1 000 tokenizations made %d KMS calls", got)
	}
}

// TestConcurrentSameCardMakesOneToken: two requests that both found no token for a card race to store
// one; the card guard lets only the first commit, and the second recognises the duplicate.
func TestConcurrentSameCardMakesOneToken(t *testing.T) {
	s := stacktest.New(t)
	db := dynamodb.NewFromConfig(s.Env.AWS)
	v := cardwiring.Vault(s.Env, db)
	ctx := context.Background()
	a, errA := v.Tokenize(ctx, "cus_aliceaaaaaaaaaaaaaaaaaaaaa", validCard(t, visa))
	b, errB := v.Tokenize(ctx, "cus_aliceaaaaaaaaaaaaaaaaaaaaa", validCard(t, visa))
	if errA != nil || errB != nil || a.Existing || b.Existing || a.Token.ID == b.Token.ID {
		t.Fatalf("both requests should see no token yet: %v %v", errA, errB)
	}
	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: a.Items}); err != nil {
		t.Fatal(err)
	}
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: b.Items})
	if !vault.DuplicateCard(err) {
		t.Fatalf("second commit: %v, want a duplicate card", err)
	}
	got, err := v.Existing(ctx, "cus_aliceaaaaaaaaaaaaaaaaaaaaa", validCard(t, visa))
	if err != nil || got == nil || got.ID != a.Token.ID {
		t.Errorf("Existing = %+v, %v; want %s", got, err, a.Token.ID)
	}
	if n := countTokens(t, s); n != 1 {
		t.Errorf("%d tokens stored, want 1", n)
	}
}
