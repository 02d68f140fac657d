// Package keyrewrap re-encrypts every wrapped data key under another KMS key, with KMS ReEncrypt (the
// data keys never leave KMS in plaintext), so that a KMS key suspected of compromise can be disabled
// while every token, customer and backup stays readable.
//
// # What each KMS key wraps, and where it is stored
//
//	vault key   card data keys       vault table, every token item    wrappedKey (B), keyId (S)
//	            the fingerprint key  vault table, pk KEY#fingerprint  wrappedKey (B), keyId (S)
//	            restore canaries     backup bucket, vault manifests   vaultKeyCanary (shared/ops/backup)
//	data key    customer keys        billing table, pk CKEY#<id>      wrapped (B), key_id (S)
//	backup key  backup data keys     backup bucket, every manifest    wrappedDataKey, keyId (shared/ops/backup)
//
// Every rewrite is conditional on the wrapped key that was read, so a token or customer key deleted
// meanwhile (an erasure) is never brought back, and records the target key's ARN beside the wrapped
// key: an item whose recorded key is already the target is skipped without a KMS call. So a run is
// idempotent, and an interrupted one is finished by running it again.
//
// # Readers name their key
//
// Readers pass KeyId to Decrypt (the configured VAULT_KEY_ID or DATA_KEY_ID; the manifest's keyId for
// backups), as AWS advises, so that only the intended key is ever used: KMS refuses a ciphertext
// wrapped under any other key. After a rewrap of the vault or data key the configuration must
// therefore name the target key: repoint the alias the functions are configured with, or set the
// variable to the target key's ARN (and grant the functions' roles the same use of it). Manifests
// carry their own key id, which the rewrap updates.
package keyrewrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/tablescan"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Key names the KMS key whose wrapped data keys a run re-encrypts.
type Key string

// The keys that wrap data keys.
const (
	Data   Key = "data"
	Vault  Key = "vault"
	Backup Key = "backup"
)

// Keys is every Key, for usage messages.
var Keys = []Key{Data, Vault, Backup}

// KMS is the KMS calls of a rewrap; *kms.Client satisfies it.
type KMS interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	ReEncrypt(ctx context.Context, in *kms.ReEncryptInput, opts ...func(*kms.Options)) (*kms.ReEncryptOutput, error)
}

// DB is the DynamoDB calls of a rewrap; *dynamodb.Client satisfies it.
type DB interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Rewrapper re-encrypts wrapped data keys. The zero Workers runs DefaultWorkers at once.
type Rewrapper struct {
	KMS          KMS
	DB           DB
	BillingTable string
	VaultTable   string
	// Backups rewraps the manifests in the backup bucket (nil: backups are left alone).
	Backups *backup.Runner
	// Current is the configured KMS key of each Key (VAULT_KEY_ID, ...; an alias, id or ARN). A wrapped
	// key found under any key but Current or the target is not rewritten: the run fails instead of
	// adopting a data key it did not make.
	Current map[Key]string
	Workers int
	// Audit, if set, records every run in the audit trail.
	Audit *Auditor
	// Progress, if set, is told of every item as it is done: the kind of item ("tokens", ...) and
	// whether it was rewrapped (false: already under the target, or deleted meanwhile).
	Progress func(kind string, rewrapped bool)
}

// DefaultWorkers is how many items are rewrapped at once.
const DefaultWorkers = 8

// Count is the outcome for one kind of item.
type Count struct {
	Kind string
	// Rewrapped items were re-encrypted and rewritten; Skipped ones were already under the target;
	// Gone ones were deleted (or rewrapped by another run) between the read and the write.
	Rewrapped, Skipped, Gone int
}

// Result is the outcome of a run.
type Result struct {
	Key Key
	// TargetARN and SourceARN are the target key and the key the configuration named, as ARNs.
	TargetARN, SourceARN string
	Counts               []Count
}

// ErrUnusableKey reports a target or configured key that cannot wrap data keys (disabled, pending
// deletion, asymmetric or for signing).
var ErrUnusableKey = errors.New("key cannot wrap data keys")

// ErrForeignKey reports a wrapped key found under a KMS key that is neither the configured key nor
// the target.
var ErrForeignKey = errors.New("wrapped under a KMS key that is neither the configured key nor the target")

// Run re-encrypts under the KMS key to (an id, ARN or alias) every data key that key wraps, and
// records the run in the audit trail.
func (w *Rewrapper) Run(ctx context.Context, key Key, to string) (Result, error) {
	res, err := w.run(ctx, key, to)
	return res, w.Audit.write(ctx, res, to, err)
}

func (w *Rewrapper) run(ctx context.Context, key Key, to string) (Result, error) {
	res := Result{Key: key}
	target, err := w.describe(ctx, to)
	if err != nil {
		return res, fmt.Errorf("target key %s: %w", to, err)
	}
	res.TargetARN = target
	if cur := w.Current[key]; cur != "" {
		if res.SourceARN, err = w.describe(ctx, cur); err != nil {
			// A disabled or deleted configured key can no longer be the source of anything: every
			// ReEncrypt from it would fail. Say so before starting.
			return res, fmt.Errorf("configured %s key %s: %w (a disabled key must be enabled again for the rewrap, then disabled)", key, cur, err)
		}
	}
	accept := func(source string) error {
		if source == target || source == res.SourceARN {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrForeignKey, source)
	}
	var kinds []itemKind
	switch key {
	case Vault:
		kinds = []itemKind{tokens(w.VaultTable), fingerprint(w.VaultTable)}
	case Data:
		kinds = []itemKind{customerKeys(w.BillingTable)}
	case Backup:
	default:
		return res, fmt.Errorf("unknown key %q: want one of %v", key, Keys)
	}
	for _, k := range kinds {
		if k.table == "" {
			return res, fmt.Errorf("no table for %s: set %s", k.name, k.env)
		}
		c, err := w.items(ctx, k, target, accept)
		res.Counts = append(res.Counts, c)
		if err != nil {
			return res, fmt.Errorf("%s in %s: %w", k.name, k.table, err)
		}
	}
	if w.Backups != nil && (key == Backup || key == Vault) {
		kind, name := backup.RewrapDataKeys, "backup data keys"
		if key == Vault {
			kind, name = backup.RewrapCanaries, "backup canaries"
		}
		c := Count{Kind: name}
		err := w.Backups.RewrapManifests(ctx, w.KMS, kind, target, accept, func(rewrapped bool) {
			if rewrapped {
				c.Rewrapped++
			} else {
				c.Skipped++
			}
			w.progress(name, rewrapped)
		})
		res.Counts = append(res.Counts, c)
		if err != nil {
			return res, fmt.Errorf("%s in s3://%s: %w", name, w.Backups.Bucket, err)
		}
	}
	return res, nil
}

// describe resolves a key id or alias to its ARN and checks that it can wrap data keys.
func (w *Rewrapper) describe(ctx context.Context, id string) (string, error) {
	out, err := w.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	var notFound *ktypes.NotFoundException
	if errors.As(err, &notFound) {
		return "", fmt.Errorf("%w: %w", ErrUnusableKey, err)
	}
	if err != nil {
		return "", err
	}
	md := out.KeyMetadata
	// An empty usage or spec is the default (KMS always names them; moto leaves them out).
	switch {
	case md.KeyState != ktypes.KeyStateEnabled:
		return "", fmt.Errorf("%w: it is %s, not Enabled", ErrUnusableKey, md.KeyState)
	case (md.KeyUsage != "" && md.KeyUsage != ktypes.KeyUsageTypeEncryptDecrypt) ||
		(md.KeySpec != "" && md.KeySpec != ktypes.KeySpecSymmetricDefault):
		return "", fmt.Errorf("%w: it is %s %s; data keys need a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key", ErrUnusableKey, md.KeySpec, md.KeyUsage)
	}
	return aws.ToString(md.Arn), nil
}

func (w *Rewrapper) progress(kind string, rewrapped bool) {
	if w.Progress != nil {
		w.Progress(kind, rewrapped)
	}
}

// itemKind is one kind of table item that holds a wrapped data key.
type itemKind struct {
	name, table, env string
	// filter selects the items (a Scan filter over #pk and #sk, with its values).
	filter string
	values map[string]types.AttributeValue
	// wrapped and keyID are the attributes of the wrapped key and of the ARN of its KMS key.
	wrapped, keyID string
	// context is the encryption context the data key was wrapped with.
	context func(item map[string]types.AttributeValue) (map[string]string, error)
	// shared: many items hold the same wrapped key (card data keys serve up to 10 000 tokens), so
	// each distinct one is re-encrypted once per run and stays shared.
	shared bool
}

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func tokens(table string) itemKind {
	return itemKind{
		name: "tokens", table: table, env: config.EnvVaultTable,
		filter: "#sk = :sk", values: map[string]types.AttributeValue{":sk": sv("TOK")},
		wrapped: "wrappedKey", keyID: "keyId", shared: true,
		context: func(map[string]types.AttributeValue) (map[string]string, error) { return vault.CardDataContext, nil },
	}
}

func fingerprint(table string) itemKind {
	return itemKind{
		name: "fingerprint key", table: table, env: config.EnvVaultTable,
		filter: "#pk = :pk AND #sk = :sk", values: map[string]types.AttributeValue{":pk": sv("KEY#fingerprint"), ":sk": sv("KEY")},
		wrapped: "wrappedKey", keyID: "keyId",
		context: func(map[string]types.AttributeValue) (map[string]string, error) { return vault.FingerprintContext, nil },
	}
}

func customerKeys(table string) itemKind {
	return itemKind{
		name: "customer keys", table: table, env: config.EnvBillingTable,
		filter:  "begins_with(#pk, :pk) AND #sk = :sk",
		values:  map[string]types.AttributeValue{":pk": sv(customerkeys.PKPrefix), ":sk": sv(customerkeys.SK)},
		wrapped: "wrapped", keyID: "key_id",
		context: func(item map[string]types.AttributeValue) (map[string]string, error) {
			pk, _ := item[resources.PK].(*types.AttributeValueMemberS)
			if pk == nil || len(pk.Value) <= len(customerkeys.PKPrefix) {
				return nil, errors.New("customer key item without a customer id")
			}
			return customerkeys.Context(pk.Value[len(customerkeys.PKPrefix):]), nil
		},
	}
}

// rewrapped is a memo of the re-encryption of one shared wrapped key.
type rewrapped struct {
	once  sync.Once
	blob  []byte
	keyID string
	err   error
}

// items scans one kind of item and rewraps each with a pool of workers.
func (w *Rewrapper) items(ctx context.Context, k itemKind, target string, accept func(string) error) (Count, error) {
	c := Count{Kind: k.name}
	var mu sync.Mutex
	memo := map[string]*rewrapped{}
	workers := w.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(k.table),
		FilterExpression:          aws.String(k.filter),
		ProjectionExpression:      aws.String("#pk, #sk, #w, #k"),
		ExpressionAttributeNames:  map[string]string{"#pk": resources.PK, "#sk": resources.SK, "#w": k.wrapped, "#k": k.keyID},
		ExpressionAttributeValues: k.values,
		ConsistentRead:            aws.Bool(true),
	}
	err := tablescan.Each(ctx, w.DB, in, workers, func(ctx context.Context, item map[string]types.AttributeValue) error {
		outcome, err := w.item(ctx, k, item, target, accept, &mu, memo)
		if err != nil {
			return err
		}
		mu.Lock()
		switch outcome {
		case done:
			c.Rewrapped++
		case skipped:
			c.Skipped++
		case gone:
			c.Gone++
		}
		mu.Unlock()
		w.progress(k.name, outcome == done)
		return nil
	})
	return c, err
}

type outcome int

const (
	done outcome = iota
	skipped
	gone
)

// item rewraps one item: ReEncrypt, then an update conditioned on the wrapped key that was read.
func (w *Rewrapper) item(ctx context.Context, k itemKind, item map[string]types.AttributeValue, target string,
	accept func(string) error, mu *sync.Mutex, memo map[string]*rewrapped) (outcome, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	old, ok := item[k.wrapped].(*types.AttributeValueMemberB)
	if !ok {
		return skipped, nil // nothing wrapped (yet)
	}
	if rec, ok := item[k.keyID].(*types.AttributeValueMemberS); ok && rec.Value == target {
		return skipped, nil
	}
	ec, err := k.context(item)
	if err != nil {
		return 0, err
	}
	r := &rewrapped{}
	if k.shared {
		mu.Lock()
		if m := memo[string(old.Value)]; m != nil {
			r = m
		} else {
			memo[string(old.Value)] = r
		}
		mu.Unlock()
	}
	r.once.Do(func() {
		out, err := w.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{
			CiphertextBlob: old.Value, SourceEncryptionContext: ec,
			DestinationKeyId: aws.String(target), DestinationEncryptionContext: ec,
		})
		if err != nil {
			r.err = fmt.Errorf("re-encrypt under %s: %w", target, err)
			return
		}
		if err := accept(aws.ToString(out.SourceKeyId)); err != nil {
			r.err = err
			return
		}
		r.blob, r.keyID = out.CiphertextBlob, aws.ToString(out.KeyId)
	})
	if r.err != nil {
		return 0, fmt.Errorf("item %s: %w", describeKey(item), r.err)
	}
	_, err = w.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(k.table),
		Key:                      map[string]types.AttributeValue{resources.PK: item[resources.PK], resources.SK: item[resources.SK]},
		UpdateExpression:         aws.String("SET #w = :new, #k = :key"),
		ConditionExpression:      aws.String("#w = :old"),
		ExpressionAttributeNames: map[string]string{"#w": k.wrapped, "#k": k.keyID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":new": &types.AttributeValueMemberB{Value: r.blob}, ":key": sv(r.keyID), ":old": old,
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cond *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &cond):
		// The SDK retries a write whose answer was lost after DynamoDB applied it; the retry meets the
		// key this run wrote (ReEncrypt's output is randomised: no other run writes the same bytes).
		if now, ok := cond.Item[k.wrapped].(*types.AttributeValueMemberB); ok && bytes.Equal(now.Value, r.blob) {
			return done, nil
		}
		return gone, nil
	case err != nil:
		return 0, fmt.Errorf("item %s: write: %w", describeKey(item), err)
	}
	return done, nil
}

// describeKey names an item by its key, which holds ids only.
func describeKey(item map[string]types.AttributeValue) string {
	pk, _ := item[resources.PK].(*types.AttributeValueMemberS)
	sk, _ := item[resources.SK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "?"
	}
	return pk.Value + "/" + sk.Value
}
