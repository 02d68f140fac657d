// Package customerkeys owns the per-customer data keys that seal a customer's personal data (name,
// email, address, tax id, and the cardholder names of its cards in the vault): one AES-256-GCM key per customer (envelope.Key), generated and wrapped by
// KMS under the data key with an encryption context naming the customer, so that destroying the
// wrapped key destroys the data (crypto-shredding) while the rest of the customer's records stay.
//
// # Where the wrapped keys live
//
// Each wrapped key is an item of its own in the billing table, beside (never inside) the customer:
//
//	customer key    pk CKEY#<customer id>   sk CKEY    wrapped (B), key_id (S), created_at (S)
//
// It is written in the same transaction as the new customer, so a customer never exists without
// its key. Keeping it in the billing table means it is backed up with the data it opens: a table
// restored after losing the live one still decrypts its customers. What must not come back is the
// key of an erased customer; the erasure ledger (outside every backed-up table) lists those, and
// every restore re-applies it by deleting their key items (and tokens) again. A separate table that
// backups never include would avoid the re-application but loses every customer's data with the
// table it was meant to protect, which a billing system cannot accept. Because the key item is
// separate from the customer item, erasing deletes exactly one small item and nothing has to be
// rewritten in the customer's invoices or backups.
//
// # Cost
//
// Creating a customer costs one KMS GenerateDataKey. Reading one costs one GetItem of the key item
// and one KMS Decrypt the first time; the unwrapped key is then cached for a bounded age (MaxAge),
// up to MaxKeys customers, so steady-state reads make no KMS call and no key read.
package customerkeys

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Purpose is the vaultbill:purpose of every customer key's encryption context.
const Purpose = resources.PurposeCustomerData

// Key item layout.
const (
	PKPrefix    = "CKEY#"
	SK          = "CKEY"
	attrWrapped = "wrapped"
	attrKeyID   = "key_id"
	attrCreated = "created_at"
)

// Defaults of the cache of unwrapped keys.
const (
	DefaultMaxAge  = 5 * time.Minute
	DefaultMaxKeys = 4096
)

// ErrNoKey is returned for a customer whose key item does not exist: it was erased (or never had
// one: a customer stored before per-customer keys, see the migration command).
var ErrNoKey = errors.New("customer key does not exist")

// Context is the KMS encryption context of a customer's key: KMS unwraps it for that customer only,
// and CloudTrail names the customer with every unwrap.
func Context(customerID string) map[string]string {
	return map[string]string{resources.EncryptionContextPurpose: Purpose, "customer": customerID}
}

// DB is the DynamoDB call the keys make themselves (writes go into the caller's transaction).
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Keys creates, unwraps and caches customer keys. It is safe for concurrent use.
type Keys struct {
	KMS   envelope.KMS
	DB    DB
	Table string
	// KeyID is the KMS key that wraps customer keys (the data key).
	KeyID string
	// MaxAge and MaxKeys bound the cache of unwrapped keys.
	MaxAge  time.Duration
	MaxKeys int
	// Now is the clock (time.Now when nil).
	Clock clock.Func

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	key *envelope.Key
	at  time.Time
}

// New returns Keys over the billing table and the data key.
func New(client envelope.KMS, db DB, table, keyID string) *Keys {
	return &Keys{KMS: client, DB: db, Table: table, KeyID: keyID, MaxAge: DefaultMaxAge, MaxKeys: DefaultMaxKeys}
}

// ItemKey is the DynamoDB key of a customer's key item.
func ItemKey(customerID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		resources.PK: &types.AttributeValueMemberS{Value: PKPrefix + customerID},
		resources.SK: &types.AttributeValueMemberS{Value: SK},
	}
}

// Create has KMS generate a new key for customerID and returns it with the put of its key item,
// which the caller commits with the customer (it fails if the customer already has a key).
func (k *Keys) Create(ctx context.Context, customerID string) (*envelope.Key, types.TransactWriteItem, error) {
	plain, wrapped, err := envelope.NewSecret(ctx, k.KMS, k.KeyID, Context(customerID))
	if err != nil {
		return nil, types.TransactWriteItem{}, err
	}
	defer clear(plain)
	key, err := envelope.NewKey(plain)
	if err != nil {
		return nil, types.TransactWriteItem{}, err
	}
	item := ItemKey(customerID)
	item[attrWrapped] = &types.AttributeValueMemberB{Value: wrapped}
	item[attrKeyID] = &types.AttributeValueMemberS{Value: k.KeyID}
	item[attrCreated] = &types.AttributeValueMemberS{Value: k.Clock.Now().UTC().Format(time.RFC3339)}
	k.put(customerID, key)
	return key, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(k.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}}, nil
}

// Get returns the unwrapped key of customerID: from the cache, or by reading its key item and
// unwrapping it with KMS. A customer with no key item is ErrNoKey.
func (k *Keys) Get(ctx context.Context, customerID string) (*envelope.Key, error) {
	if key := k.cached(customerID); key != nil {
		return key, nil
	}
	out, err := k.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(k.Table), Key: ItemKey(customerID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read key of customer %s: %w", customerID, err)
	}
	w, ok := out.Item[attrWrapped].(*types.AttributeValueMemberB)
	if !ok {
		return nil, ErrNoKey
	}
	plain, err := envelope.Unwrap(ctx, k.KMS, k.KeyID, Context(customerID), w.Value)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	key, err := envelope.NewKey(plain)
	if err != nil {
		return nil, err
	}
	k.put(customerID, key)
	return key, nil
}

// Forget drops customerID's key from this process's cache (after its erasure).
func (k *Keys) Forget(customerID string) {
	k.mu.Lock()
	delete(k.cache, customerID)
	k.mu.Unlock()
}

// DeleteItem is the delete of customerID's key item: the crypto-shredding of its personal data.
func (k *Keys) DeleteItem(customerID string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(k.Table), Key: ItemKey(customerID)}}
}

func (k *Keys) cached(customerID string) *envelope.Key {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.cache[customerID]
	if !ok {
		return nil
	}
	if k.Clock.Now().Sub(c.at) >= k.maxAge() {
		delete(k.cache, customerID)
		return nil
	}
	return c.key
}

func (k *Keys) maxAge() time.Duration {
	if k.MaxAge > 0 {
		return k.MaxAge
	}
	return DefaultMaxAge
}

func (k *Keys) put(customerID string, key *envelope.Key) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cache == nil {
		k.cache = map[string]cached{}
	}
	max := k.MaxKeys
	if max <= 0 {
		max = DefaultMaxKeys
	}
	now := k.Clock.Now()
	for len(k.cache) >= max {
		// Evict the oldest; a full scan is fine at these sizes and only happens on a miss.
		var oldest string
		var at time.Time
		first := true
		for id, c := range k.cache {
			if first || c.at.Before(at) {
				oldest, at, first = id, c.at, false
			}
		}
		delete(k.cache, oldest)
	}
	k.cache[customerID] = cached{key: key, at: now}
}

// Seal encrypts a customer's personal data under key, bound to the customer id.
func Seal(key *envelope.Key, customerID string, plain []byte) ([]byte, error) {
	return key.Seal(nil, plain, []byte("customer:"+customerID))
}

// Open decrypts what Seal sealed for customerID.
func Open(key *envelope.Key, customerID string, sealed []byte) ([]byte, error) {
	return key.Open(sealed, []byte("customer:"+customerID))
}

// outcomePrefix leads a kept response sealed under a customer key: "ckey1:<customer id>:<base64>".
const outcomePrefix = "ckey1:"

// SealOutcome seals a kept idempotent response body for customerID (endpoint.OutcomeCipher): a
// retried customer create or update replays it, and erasing the customer shreds it too.
func (k *Keys) SealOutcome(ctx context.Context, customerID string, body []byte) (string, error) {
	key, err := k.Get(ctx, customerID)
	if err != nil {
		return "", fmt.Errorf("key of customer %s: %w", customerID, err)
	}
	sealed, err := key.Seal(nil, body, []byte("outcome:"+customerID))
	if err != nil {
		return "", err
	}
	return outcomePrefix + customerID + ":" + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// IsSealedOutcome reports whether a kept body is one SealOutcome made.
func (k *Keys) IsSealedOutcome(stored string) bool { return strings.HasPrefix(stored, outcomePrefix) }

// OpenOutcome opens what SealOutcome sealed. The body of an erased customer is ErrNoKey.
func (k *Keys) OpenOutcome(ctx context.Context, stored string) (string, error) {
	id, b64, ok := strings.Cut(strings.TrimPrefix(stored, outcomePrefix), ":")
	sealed, err := base64.RawStdEncoding.DecodeString(b64)
	if !ok || err != nil {
		return "", envelope.ErrOpen
	}
	key, err := k.Get(ctx, id)
	if err != nil {
		return "", err
	}
	plain, err := key.Open(sealed, []byte("outcome:"+id))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// SealCardholder seals the cardholder name of a card tokenized for customerID under the customer's
// key, bound to the customer and the token: the vault keeps it inside the card payload, so that
// erasing the customer's key leaves no cardholder name in any copy of the vault table, whichever
// vault key remains.
func SealCardholder(key *envelope.Key, customerID, tokenID string, name []byte) ([]byte, error) {
	return key.Seal(nil, name, cardholderAAD(customerID, tokenID))
}

// OpenCardholder decrypts what SealCardholder sealed for customerID's token tokenID.
func OpenCardholder(key *envelope.Key, customerID, tokenID string, sealed []byte) ([]byte, error) {
	return key.Open(sealed, cardholderAAD(customerID, tokenID))
}

// cardholderAAD keeps a sealed cardholder name apart from the customer's other sealed data: it
// does not open as the customer's personal data or as another token's name.
func cardholderAAD(customerID, tokenID string) []byte {
	return []byte("cardholder:" + customerID + ":" + tokenID)
}
