package vault

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// The fingerprint key.
//
// A fingerprint is HMAC-SHA-256 of the whole card number (PCI DSS 3.5.1.1: a keyed hash), under a
// 32-byte secret that KMS generates under the vault key with FingerprintContext. Only its wrapped form
// is stored, as one item in the vault table; each function instance unwraps it once, on first use.
//
// Why not a KMS HMAC key (GenerateMac): that is one KMS call per card, which costs money and latency
// on every tokenization and spends the account's shared KMS request quota, exactly what the data key
// cache avoids for encryption. The wrapped secret is as well protected at rest (reading it needs
// kms:Decrypt on the vault key with the fingerprint context, which only the tokens and payments
// functions hold), adds no KMS key, and costs one call per cold start. The price is that the secret
// lives in the function's memory, as the card data keys already do.
var fingerprintKey = map[string]types.AttributeValue{
	resources.PK: &types.AttributeValueMemberS{Value: "KEY#fingerprint"},
	resources.SK: &types.AttributeValueMemberS{Value: "KEY"},
}

// Fingerprint returns the keyed fingerprint of a card number (base64url, 43 characters).
func (v *Vault) Fingerprint(ctx context.Context, pan card.PAN) (string, error) {
	key, err := v.fingerprintSecret(ctx)
	if err != nil {
		return "", unavailable(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(pan.Bytes())
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(mac.Sum(sum[:0])), nil
}

// fingerprintSecret returns the unwrapped secret, loading it (or creating it, the very first time)
// on first use. A failure is not cached: the next request tries again.
func (v *Vault) fingerprintSecret(ctx context.Context) ([]byte, error) {
	v.fpMu.Lock()
	defer v.fpMu.Unlock()
	if v.fpKey != nil {
		return v.fpKey, nil
	}
	key, err := v.loadFingerprintSecret(ctx)
	if err != nil {
		return nil, err
	}
	v.fpKey = key
	return key, nil
}

func (v *Vault) loadFingerprintSecret(ctx context.Context) ([]byte, error) {
	for attempt := 0; attempt < 2; attempt++ {
		out, err := v.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(v.table), Key: fingerprintKey, ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("read fingerprint key: %w", err)
		}
		if w, ok := out.Item["wrappedKey"].(*types.AttributeValueMemberB); ok {
			return envelope.Unwrap(ctx, v.kms, v.keyID, FingerprintContext, w.Value)
		}
		plain, wrapped, err := envelope.NewSecret(ctx, v.kms, v.keyID, FingerprintContext)
		if err != nil {
			return nil, err
		}
		item := map[string]types.AttributeValue{
			"wrappedKey": &types.AttributeValueMemberB{Value: wrapped},
			"created":    &types.AttributeValueMemberS{Value: v.Clock.Now().UTC().Format(time.RFC3339)},
		}
		for k, val := range fingerprintKey {
			item[k] = val
		}
		_, err = v.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(v.table), Item: item,
			ConditionExpression: aws.String("attribute_not_exists(" + resources.PK + ")"),
		})
		var cond *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			return plain, nil
		case errors.As(err, &cond):
			// Another instance created it first; everyone must use that one. Read it again.
			clear(plain)
			continue
		default:
			clear(plain)
			return nil, fmt.Errorf("store fingerprint key: %w", err)
		}
	}
	return nil, errors.New("fingerprint key: created concurrently but not readable")
}

// RequestHash is the keyed hash of an API request (method, path, body) that the idempotency store
// keeps for POST /v1/tokens: the body holds a card number, so an unkeyed hash of it could be
// brute-forced back to the number. It is an HMAC under the fingerprint key with its own prefix, so it
// can never equal a card fingerprint.
func (v *Vault) RequestHash(ctx context.Context, method, path string, body []byte) (string, error) {
	key, err := v.fingerprintSecret(ctx)
	if err != nil {
		return "", unavailable(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("vaultbill/request/v1\x00" + method + " " + path + "\n"))
	mac.Write(body)
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(mac.Sum(sum[:0])), nil
}
