// Package envelope owns envelope encryption under KMS: AES-256-GCM under data keys that KMS generates
// and wraps, with the plaintext data keys cached in memory for a bounded age and number of uses so
// that steady-state encryption costs far less than one KMS call per message.
//
// A sealed message is [version 1][nonce 12][ciphertext+tag 16]; the caller's additional data (the
// vault passes the token id) is authenticated but not stored, so a ciphertext moved to another record
// fails to open. Random 96-bit nonces are safe for far more than the default 10 000 uses of a key
// (NIST SP 800-38D bounds a key at 2^32 random-nonce messages).
package envelope

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/vaultbill/vaultbill/shared/domain/clock"
)

// KMS is the part of the KMS API the envelope needs; *kms.Client satisfies it.
type KMS interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Defaults of the key cache.
const (
	DefaultMaxAge    = 5 * time.Minute
	DefaultMaxUses   = 10_000
	DefaultMaxOpened = 256
)

const (
	version   = 1
	nonceSize = 12
	overhead  = 1 + nonceSize + 16
)

// ErrOpen is returned when a ciphertext does not authenticate: it was altered, or it belongs to
// another record (other additional data), or it was sealed under another data key.
var ErrOpen = errors.New("envelope: ciphertext does not authenticate")

// KMSError marks a failure of KMS itself (unreachable, throttled, key disabled or access denied),
// as opposed to a bad ciphertext; callers answer it with 503.
type KMSError struct{ Err error }

func (e *KMSError) Error() string { return "kms: " + e.Err.Error() }

// Unwrap returns the SDK error.
func (e *KMSError) Unwrap() error { return e.Err }

// Sealed is an encrypted message and what is needed to open it.
type Sealed struct {
	Ciphertext []byte
	// WrappedKey is the data key encrypted by KMS (its CiphertextBlob).
	WrappedKey []byte
	// KeyID is the ARN of the KMS key that wrapped the data key.
	KeyID string
}

// Envelope seals and opens messages under one KMS key and encryption context. It is safe for
// concurrent use. Close zeroes every cached key.
type Envelope struct {
	kms     KMS
	keyID   string
	context map[string]string

	// MaxAge and MaxUses bound how long and how often a data key is used, for sealing and opening
	// alike; MaxOpened bounds how many unwrapped keys are kept for opening.
	MaxAge    time.Duration
	MaxUses   int
	MaxOpened int
	// Now is the clock (time.Now when nil).
	Clock clock.Func

	sealMu sync.Mutex // held across GenerateDataKey, so one caller fetches a key and the rest wait for it
	cur    *dataKey

	openMu sync.Mutex
	opened map[string]*dataKey
}

// New returns an Envelope under KMS key keyID (id, ARN or alias). The encryption context names the
// purpose of the data keys: KMS refuses to unwrap them under any other context, and CloudTrail logs
// it with every KMS call.
func New(client KMS, keyID string, encryptionContext map[string]string) *Envelope {
	return &Envelope{
		kms: client, keyID: keyID, context: encryptionContext,
		MaxAge: DefaultMaxAge, MaxUses: DefaultMaxUses, MaxOpened: DefaultMaxOpened,
	}
}

type dataKey struct {
	plain   []byte
	wrapped []byte
	keyID   string
	aead    *Key
	created time.Time
	uses    int
}

// zero overwrites the plaintext key. The AES key schedule inside aead cannot be reached from Go; the
// key is dropped with it and becomes garbage.
func (k *dataKey) zero() {
	clear(k.plain)
	k.aead = nil
}

func (e *Envelope) usable(k *dataKey, now time.Time) bool {
	return k != nil && k.uses < e.MaxUses && now.Sub(k.created) < e.MaxAge
}

// Seal encrypts plaintext bound to additional data ad (e.g. a record id).
func (e *Envelope) Seal(ctx context.Context, plaintext, ad []byte) (Sealed, error) {
	key, wrapped, keyID, err := e.sealingKey(ctx)
	if err != nil {
		return Sealed{}, err
	}
	out := make([]byte, 1, overhead+len(plaintext))
	out[0] = version
	if out, err = key.Seal(out, plaintext, ad); err != nil {
		return Sealed{}, err
	}
	return Sealed{Ciphertext: out, WrappedKey: wrapped, KeyID: keyID}, nil
}

// sealingKey returns the current data key, counting one use, and replaces it when it is too old or
// used up. It returns copies of the key's fields: the key may be retired by another caller as soon as
// the lock is released.
func (e *Envelope) sealingKey(ctx context.Context) (*Key, []byte, string, error) {
	e.sealMu.Lock()
	defer e.sealMu.Unlock()
	now := e.Clock.Now()
	if !e.usable(e.cur, now) {
		if e.cur != nil {
			e.cur.zero()
			e.cur = nil
		}
		out, err := e.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
			KeyId: aws.String(e.keyID), KeySpec: types.DataKeySpecAes256, EncryptionContext: e.context,
		})
		if err != nil {
			return nil, nil, "", &KMSError{fmt.Errorf("generate data key under %s: %w", e.keyID, err)}
		}
		k, err := newDataKey(out.Plaintext, out.CiphertextBlob, aws.ToString(out.KeyId), now)
		clear(out.Plaintext)
		if err != nil {
			return nil, nil, "", err
		}
		e.cur = k
	}
	e.cur.uses++
	return e.cur.aead, e.cur.wrapped, e.cur.keyID, nil
}

func newDataKey(plain, wrapped []byte, keyID string, now time.Time) (*dataKey, error) {
	if len(plain) != 32 {
		return nil, fmt.Errorf("data key from KMS is %d bytes, want 32", len(plain))
	}
	k := &dataKey{plain: append([]byte(nil), plain...), wrapped: wrapped, keyID: keyID, created: now}
	var err error
	if k.aead, err = NewKey(k.plain); err != nil {
		return nil, err
	}
	return k, nil
}

// Open decrypts s, which must have been sealed with the same additional data.
func (e *Envelope) Open(ctx context.Context, s Sealed, ad []byte) ([]byte, error) {
	if len(s.Ciphertext) < overhead || s.Ciphertext[0] != version {
		return nil, ErrOpen
	}
	k, err := e.openingKey(ctx, s.WrappedKey)
	if err != nil {
		return nil, err
	}
	return k.Open(s.Ciphertext[1:], ad)
}

// openingKey returns the AEAD of a wrapped data key, unwrapping it with KMS on a cache miss. KMS is
// called outside the lock: two concurrent misses on one key cost two calls, but a slow KMS call never
// holds up opens that hit the cache.
func (e *Envelope) openingKey(ctx context.Context, wrapped []byte) (*Key, error) {
	now := e.Clock.Now()
	e.openMu.Lock()
	if k := e.opened[string(wrapped)]; k != nil {
		if e.usable(k, now) {
			k.uses++
			aead := k.aead
			e.openMu.Unlock()
			return aead, nil
		}
		delete(e.opened, string(wrapped))
		k.zero()
	}
	e.openMu.Unlock()

	out, err := e.kms.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob: wrapped, KeyId: aws.String(e.keyID), EncryptionContext: e.context,
	})
	if err != nil {
		var invalid *types.InvalidCiphertextException
		if errors.As(err, &invalid) {
			// KMS answered: the wrapped key is not ours or was altered. That is a bad record, not an outage.
			return nil, fmt.Errorf("unwrap data key: %w: %w", ErrOpen, err)
		}
		return nil, &KMSError{fmt.Errorf("unwrap data key under %s: %w", e.keyID, err)}
	}
	k, err := newDataKey(out.Plaintext, wrapped, aws.ToString(out.KeyId), now)
	clear(out.Plaintext)
	if err != nil {
		return nil, err
	}
	k.uses = 1

	e.openMu.Lock()
	defer e.openMu.Unlock()
	if e.opened == nil {
		e.opened = map[string]*dataKey{}
	}
	if old := e.opened[string(wrapped)]; old != nil {
		old.zero()
	}
	for len(e.opened) >= e.MaxOpened {
		e.evictOldest()
	}
	e.opened[string(wrapped)] = k
	return k.aead, nil
}

func (e *Envelope) evictOldest() {
	var oldest string
	var at time.Time
	first := true
	for w, k := range e.opened {
		if first || k.created.Before(at) {
			oldest, at, first = w, k.created, false
		}
	}
	e.opened[oldest].zero()
	delete(e.opened, oldest)
}

// Close zeroes and forgets every cached data key.
func (e *Envelope) Close() {
	e.sealMu.Lock()
	if e.cur != nil {
		e.cur.zero()
		e.cur = nil
	}
	e.sealMu.Unlock()
	e.openMu.Lock()
	for w, k := range e.opened {
		k.zero()
		delete(e.opened, w)
	}
	e.openMu.Unlock()
}

// Unwrap decrypts a wrapped secret (such as the fingerprint key) once, under the envelope's key and
// encryption context; the caller owns and must zero the result.
func Unwrap(ctx context.Context, client KMS, keyID string, encryptionContext map[string]string, wrapped []byte) ([]byte, error) {
	out, err := client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob: wrapped, KeyId: aws.String(keyID), EncryptionContext: encryptionContext,
	})
	if err != nil {
		return nil, &KMSError{fmt.Errorf("unwrap secret under %s: %w", keyID, err)}
	}
	return out.Plaintext, nil
}

// NewSecret has KMS generate a 32-byte secret and returns it with its wrapped form, which is what
// may be stored.
func NewSecret(ctx context.Context, client KMS, keyID string, encryptionContext map[string]string) (plain, wrapped []byte, err error) {
	out, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(keyID), KeySpec: types.DataKeySpecAes256, EncryptionContext: encryptionContext,
	})
	if err != nil {
		return nil, nil, &KMSError{fmt.Errorf("generate secret under %s: %w", keyID, err)}
	}
	return out.Plaintext, out.CiphertextBlob, nil
}
