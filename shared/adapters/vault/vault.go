// Package vault owns the card vault: turning a validated card into a token whose card number is
// sealed under KMS envelope encryption, the token metadata that may be shown, and the one way back
// from a token to its card number (Reveal), which only the payments function uses.
//
// Items in the vault table:
//
//	token        pk "TOK#<tok_id>"           sk "TOK"       gsi1pk "CUS#<cus_id>" gsi1sk "TOK#<created>#<tok_id>"
//	             id, customerId, ciphertext, wrappedKey, keyId, brand, bin, last4, expMonth, expYear,
//	             fingerprint, created
//	card guard   pk "CUS#<cus_id>"           sk "CARD#<fingerprint>#<yyyy-mm>"      tokenId
//	fingerprint  pk "KEY#fingerprint"        sk "KEY"       wrappedKey, keyId, created
//
// The ciphertext holds the card number and the cardholder name, sealed with the token id as
// additional data, so a ciphertext copied onto another token does not open. The cardholder name is
// personal data of the customer, so inside that payload it is sealed once more, under the customer's
// own key (shared/adapters/customerkeys): erasing the customer destroys that key, and no copy of the vault
// table (a point-in-time or AWS Backup restore included) then yields the name, even with the vault
// key. Tokens stored before that (payload version 1) hold the name under the vault key only; they
// still open.
//
// The card guard makes "same customer, same card" resolve to one token even under concurrent
// requests: it is written in the same transaction as its token, on condition that it does not exist,
// and read with a strongly consistent read. Only bin (6) and last4 are stored in clear, as PCI DSS 3.4.1 allows.
package vault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// DB is the DynamoDB calls the vault makes; *dynamodb.Client satisfies it. Writes of tokens go through
// the caller's transaction (endpoint.Call.Commit), with the request's audit record.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Encryption contexts name what a KMS data key is for. KMS will not unwrap a key under another
// context, so a card data key cannot be passed off as the fingerprint key or the reverse, and an IAM
// policy can require the context (kms:EncryptionContext:vaultbill:purpose).
var (
	CardDataContext    = map[string]string{resources.EncryptionContextPurpose: resources.PurposeCardData}
	FingerprintContext = map[string]string{resources.EncryptionContextPurpose: resources.PurposeFingerprint}
)

// Config is what a Vault is built from.
type Config struct {
	DB    DB
	KMS   envelope.KMS
	Table string
	// KeyID is the vault KMS key (VAULT_KEY_ID): it wraps card data keys and the fingerprint key.
	KeyID string
	// Audit receives the Detokenize record of every Reveal.
	Audit *audit.Store
	// CustomerKeys seal and open cardholder names (*customerkeys.Keys over the billing table and the
	// data key). A vault without them refuses a card that has a name.
	CustomerKeys CustomerKeys
}

// CustomerKeys is what the vault needs of the per-customer keys (*customerkeys.Keys): a customer's
// unwrapped key, or an error wrapping customerkeys.ErrNoKey when the customer has none (erased, or
// stored before per-customer keys and not migrated yet).
type CustomerKeys interface {
	Get(ctx context.Context, customerID string) (*envelope.Key, error)
}

// Vault tokenizes and reveals cards. It is safe for concurrent use and meant to live for the whole
// life of a function instance, so its key caches pay off.
type Vault struct {
	db       DB
	table    string
	env      *envelope.Envelope
	kms      envelope.KMS
	keyID    string
	audit    *audit.Store
	keys     CustomerKeys
	fpMu     sync.Mutex
	fpKey    []byte
	Clock    clock.Func
	newToken func() string
}

// New builds a Vault. It makes no calls: the fingerprint key is loaded on first use.
func New(c Config) *Vault {
	return &Vault{
		db: c.DB, table: c.Table, kms: c.KMS, keyID: c.KeyID, audit: c.Audit, keys: c.CustomerKeys,
		env:      envelope.New(c.KMS, c.KeyID, CardDataContext),
		newToken: NewTokenID,
	}
}

// Envelope exposes the card data envelope so its cache bounds can be tuned.
func (v *Vault) Envelope() *envelope.Envelope { return v.env }

// Close zeroes every key the vault holds in memory.
func (v *Vault) Close() {
	v.env.Close()
	v.fpMu.Lock()
	clear(v.fpKey)
	v.fpKey = nil
	v.fpMu.Unlock()
}

// NewTokenID returns "tok_" and 128 random bits; a token id is never derived from card data.
func NewTokenID() string { return ids.New(ids.Token) }

// Token is a token's metadata: everything about a card that may be shown or stored in clear.
type Token struct {
	ID          string
	CustomerID  string
	Brand       card.Brand
	BIN         string
	Last4       string
	ExpMonth    int
	ExpYear     int
	Fingerprint string
	Created     time.Time
}

// tokenItem is the stored shape of a token.
type tokenItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	GSI1PK      string `dynamodbav:"gsi1pk"`
	GSI1SK      string `dynamodbav:"gsi1sk"`
	ID          string `dynamodbav:"id"`
	CustomerID  string `dynamodbav:"customerId"`
	Ciphertext  []byte `dynamodbav:"ciphertext"`
	WrappedKey  []byte `dynamodbav:"wrappedKey"`
	KeyID       string `dynamodbav:"keyId"`
	Brand       string `dynamodbav:"brand"`
	BIN         string `dynamodbav:"bin"`
	Last4       string `dynamodbav:"last4"`
	ExpMonth    int    `dynamodbav:"expMonth"`
	ExpYear     int    `dynamodbav:"expYear"`
	Fingerprint string `dynamodbav:"fingerprint"`
	Created     string `dynamodbav:"created"`
}

func (it tokenItem) token() (Token, error) {
	created, err := time.Parse(time.RFC3339Nano, it.Created)
	if err != nil {
		return Token{}, fmt.Errorf("token %s: created %q: %w", it.ID, it.Created, err)
	}
	return Token{
		ID: it.ID, CustomerID: it.CustomerID, Brand: card.Brand(it.Brand), BIN: it.BIN, Last4: it.Last4,
		ExpMonth: it.ExpMonth, ExpYear: it.ExpYear, Fingerprint: it.Fingerprint, Created: created,
	}, nil
}

func tokenKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		resources.PK: &types.AttributeValueMemberS{Value: "TOK#" + id},
		resources.SK: &types.AttributeValueMemberS{Value: "TOK"},
	}
}

// guardKey identifies "this customer's card with this fingerprint and expiry". A new expiry (a
// reissued card) gives a new token; the old one stays until it is deleted.
func guardKey(customerID, fingerprint string, month, year int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		resources.PK: &types.AttributeValueMemberS{Value: "CUS#" + customerID},
		resources.SK: &types.AttributeValueMemberS{Value: fmt.Sprintf("CARD#%s#%04d-%02d", fingerprint, year, month)},
	}
}

// createdKey sorts a customer's tokens by creation time: fixed-width UTC so text order is time order.
const createdKey = "2006-01-02T15:04:05.000000000Z"

// Tokenized is the outcome of Tokenize.
type Tokenized struct {
	Token Token
	// Existing is true when the customer already had a token for this card; Items is then empty.
	Existing bool
	// Items store the new token; commit them in one transaction, first, in this order (DuplicateCard
	// reads the cancellation reasons by position).
	Items []types.TransactWriteItem
}

// Tokenize returns the customer's existing token for the card, or seals the card under a new token
// and returns the items that store it. The card's number is not kept; the caller zeroes it.
func (v *Vault) Tokenize(ctx context.Context, customerID string, c card.Card) (Tokenized, error) {
	fp, err := v.Fingerprint(ctx, c.Number)
	if err != nil {
		return Tokenized{}, err
	}
	if tok, err := v.existing(ctx, customerID, fp, c.ExpMonth, c.ExpYear); err != nil || tok != nil {
		if tok != nil {
			return Tokenized{Token: *tok, Existing: true}, nil
		}
		return Tokenized{}, err
	}

	id := v.newToken()
	name, err := v.sealName(ctx, customerID, id, c.Name)
	if err != nil {
		return Tokenized{}, err
	}
	plain := encodePayload(c.Number, name)
	sealed, err := v.env.Seal(ctx, plain, []byte(id))
	clear(plain)
	if err != nil {
		return Tokenized{}, unavailable(fmt.Errorf("seal card for %s: %w", id, err))
	}
	now := v.Clock.Now().UTC()
	tok := Token{
		ID: id, CustomerID: customerID, Brand: c.Brand, BIN: c.Number.BIN(), Last4: c.Number.Last4(),
		ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, Fingerprint: fp, Created: now,
	}
	item, err := attributevalue.MarshalMap(tokenItem{
		PK: "TOK#" + id, SK: "TOK",
		GSI1PK: "CUS#" + customerID, GSI1SK: "TOK#" + now.Format(createdKey) + "#" + id,
		ID: id, CustomerID: customerID, Ciphertext: sealed.Ciphertext, WrappedKey: sealed.WrappedKey, KeyID: sealed.KeyID,
		Brand: string(c.Brand), BIN: tok.BIN, Last4: tok.Last4, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
		Fingerprint: fp, Created: now.Format(time.RFC3339Nano),
	})
	if err != nil {
		return Tokenized{}, fmt.Errorf("marshal token %s: %w", id, err)
	}
	guard := guardKey(customerID, fp, c.ExpMonth, c.ExpYear)
	guard["tokenId"] = &types.AttributeValueMemberS{Value: id}
	notExists := aws.String("attribute_not_exists(" + resources.PK + ")")
	return Tokenized{Token: tok, Items: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(v.table), Item: item, ConditionExpression: notExists}},
		{Put: &types.Put{TableName: aws.String(v.table), Item: guard, ConditionExpression: notExists}},
	}}, nil
}

// DuplicateCard reports whether a transaction that began with Tokenize's items failed because the
// customer's card guard already exists: a concurrent request stored the same card first. Call
// Existing to get its token.
func DuplicateCard(err error) bool {
	var tc *types.TransactionCanceledException
	return errors.As(err, &tc) && len(tc.CancellationReasons) > 1 &&
		aws.ToString(tc.CancellationReasons[1].Code) == "ConditionalCheckFailed"
}

// Existing returns the customer's token for a card (by fingerprint and expiry), or nil.
func (v *Vault) Existing(ctx context.Context, customerID string, c card.Card) (*Token, error) {
	fp, err := v.Fingerprint(ctx, c.Number)
	if err != nil {
		return nil, err
	}
	return v.existing(ctx, customerID, fp, c.ExpMonth, c.ExpYear)
}

func (v *Vault) existing(ctx context.Context, customerID, fp string, month, year int) (*Token, error) {
	out, err := v.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(v.table), Key: guardKey(customerID, fp, month, year), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read card guard of customer %s: %w", customerID, err)
	}
	id, ok := out.Item["tokenId"].(*types.AttributeValueMemberS)
	if !ok {
		return nil, nil
	}
	tok, _, err := v.get(ctx, id.Value)
	if err != nil {
		return nil, err
	}
	return tok, nil
}

// Get returns a token's metadata, or nil when there is no such token.
func (v *Vault) Get(ctx context.Context, id string) (*Token, error) {
	tok, _, err := v.get(ctx, id)
	return tok, err
}

func (v *Vault) get(ctx context.Context, id string) (*Token, *tokenItem, error) {
	out, err := v.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(v.table), Key: tokenKey(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("get token %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, nil, nil
	}
	var it tokenItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, nil, fmt.Errorf("decode token %s: %w", id, err)
	}
	tok, err := it.token()
	if err != nil {
		return nil, nil, err
	}
	return &tok, &it, nil
}

// DeleteItems crypto-shreds a token: its ciphertext is deleted with the token (the wrapped data key
// is shared with other tokens, so removing the ciphertext is what makes the number unrecoverable), and
// its card guard goes with it. Commit them with the request's audit record.
func (v *Vault) DeleteItems(tok Token) []types.TransactWriteItem {
	return []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName: aws.String(v.table), Key: tokenKey(tok.ID),
			ConditionExpression: aws.String("attribute_exists(" + resources.PK + ")"),
		}},
		{Delete: &types.Delete{TableName: aws.String(v.table), Key: guardKey(tok.CustomerID, tok.Fingerprint, tok.ExpMonth, tok.ExpYear)}},
	}
}

// unavailable marks a KMS fault: the client sees 503 and may retry; nothing was stored.
func unavailable(err error) error {
	var ke *envelope.KMSError
	if errors.As(err, &ke) {
		return problem.Wrap(problem.ServiceUnavailable, err, "The card vault is temporarily unavailable; nothing was stored. Retry later.")
	}
	return err
}

// Payload versions: the first byte of the sealed payload, so its layout can change. Version 1
// holds the cardholder name in clear inside the payload (sealed under the card data key only);
// version 2 holds it sealed under the customer's key (customerkeys.SealCardholder), or empty.
const (
	payloadV1      = 1
	payloadVersion = 2
)

// sealName seals a cardholder name under the customer's key for token id. An empty name needs no key.
func (v *Vault) sealName(ctx context.Context, customerID, id, name string) ([]byte, error) {
	if name == "" {
		return nil, nil
	}
	if v.keys == nil {
		return nil, errors.New("the vault has no customer keys: a cardholder name cannot be sealed")
	}
	key, err := v.keys.Get(ctx, customerID)
	if errors.Is(err, customerkeys.ErrNoKey) {
		// A customer stored before per-customer keys (`vaultbill customers migrate` gives it one):
		// a name is no longer stored under the vault key alone, and tokens makes no customer keys.
		return nil, problem.Wrap(problem.InvalidState, err,
			"The customer's personal data has not been moved under its own key yet, so a cardholder name cannot be stored for it; retry without the name or after the migration.")
	}
	if err != nil {
		return nil, unavailable(fmt.Errorf("key of customer %s: %w", customerID, err))
	}
	b := []byte(name)
	defer clear(b)
	return customerkeys.SealCardholder(key, customerID, id, b)
}

// openName returns the cardholder name of a decoded payload: as it is for version 1, opened under
// the customer's key for version 2. Without the key (the customer was erased) it fails closed.
func (v *Vault) openName(ctx context.Context, tok *Token, version byte, name []byte) (string, error) {
	if version == payloadV1 || len(name) == 0 {
		return string(name), nil
	}
	if v.keys == nil {
		return "", errors.New("the vault has no customer keys: a cardholder name cannot be opened")
	}
	key, err := v.keys.Get(ctx, tok.CustomerID)
	if errors.Is(err, customerkeys.ErrNoKey) {
		return "", problem.Wrap(problem.CustomerErased, err, "The card's customer was erased; its card cannot be used.")
	}
	if err != nil {
		return "", unavailable(fmt.Errorf("key of customer %s: %w", tok.CustomerID, err))
	}
	plain, err := customerkeys.OpenCardholder(key, tok.CustomerID, tok.ID, name)
	if err != nil {
		return "", fmt.Errorf("open cardholder name of token %s: %w", tok.ID, err)
	}
	defer clear(plain)
	return string(plain), nil
}

// encodePayload lays out what is sealed: [version][number length][number][name length (2)][name],
// the name being sealed under the customer's key (or empty). No security code is part of it.
func encodePayload(number card.PAN, name []byte) []byte {
	n := number.Bytes()
	out := make([]byte, 0, 4+len(n)+len(name))
	out = append(out, payloadVersion, byte(len(n)))
	out = append(out, n...)
	out = append(out, byte(len(name)>>8), byte(len(name)))
	return append(out, name...)
}

// decodePayload reads a payload of either version: the number, and the name field as stored (in
// clear for version 1, sealed for version 2). The name shares b's memory.
func decodePayload(b []byte) (version byte, pan card.PAN, name []byte, err error) {
	bad := errors.New("sealed card payload is malformed")
	if len(b) < 2 || (b[0] != payloadV1 && b[0] != payloadVersion) {
		return 0, card.PAN{}, nil, bad
	}
	n := int(b[1])
	if len(b) < 2+n+2 {
		return 0, card.PAN{}, nil, bad
	}
	pan = card.NewPAN(b[2 : 2+n])
	rest := b[2+n:]
	m := int(rest[0])<<8 | int(rest[1])
	if len(rest) != 2+m {
		return 0, card.PAN{}, nil, bad
	}
	return b[0], pan, rest[2:], nil
}
