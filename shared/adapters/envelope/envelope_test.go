package envelope

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// fakeKMS wraps data keys with a master key, binding the encryption context as GCM additional data,
// as KMS does. It counts calls and fails when told to.
type fakeKMS struct {
	master      cipher.AEAD
	generate    atomic.Int64
	decrypt     atomic.Int64
	fail        atomic.Bool
	lastPlain   []byte
	lastPlainMu sync.Mutex
}

func newFakeKMS() *fakeKMS {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(b)
	return &fakeKMS{master: g}
}

func ctxBytes(m map[string]string) []byte { b, _ := json.Marshal(m); return b }

func (f *fakeKMS) GenerateDataKey(_ context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	f.generate.Add(1)
	if f.fail.Load() {
		return nil, errors.New("KMS unreachable")
	}
	plain := make([]byte, 32)
	_, _ = rand.Read(plain)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	wrapped := f.master.Seal(nonce, nonce, plain, ctxBytes(in.EncryptionContext))
	f.lastPlainMu.Lock()
	f.lastPlain = plain
	f.lastPlainMu.Unlock()
	return &kms.GenerateDataKeyOutput{Plaintext: append([]byte(nil), plain...), CiphertextBlob: wrapped, KeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/test")}, nil
}

func (f *fakeKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	f.decrypt.Add(1)
	if f.fail.Load() {
		return nil, errors.New("KMS unreachable")
	}
	w := in.CiphertextBlob
	if len(w) < 12 {
		return nil, &types.InvalidCiphertextException{Message: aws.String("bad")}
	}
	plain, err := f.master.Open(nil, w[:12], w[12:], ctxBytes(in.EncryptionContext))
	if err != nil {
		return nil, &types.InvalidCiphertextException{Message: aws.String("bad")}
	}
	return &kms.DecryptOutput{Plaintext: plain, KeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/test")}, nil
}

var purpose = map[string]string{"purpose": "test"}

func TestSealOpenBindsAdditionalData(t *testing.T) {
	f := newFakeKMS()
	e := New(f, "alias/test", purpose)
	ctx := context.Background()
	a, err := e.Seal(ctx, []byte("secret a"), []byte("tok_a"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.Seal(ctx, []byte("secret b"), []byte("tok_b"))

	opener := New(f, "alias/test", purpose) // a cold instance, as the payments function would be
	got, err := opener.Open(ctx, a, []byte("tok_a"))
	if err != nil || string(got) != "secret a" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	swapped := Sealed{Ciphertext: b.Ciphertext, WrappedKey: a.WrappedKey}
	tampered := Sealed{Ciphertext: bytes.Clone(a.Ciphertext), WrappedKey: a.WrappedKey}
	tampered.Ciphertext[20] ^= 1
	for name, tc := range map[string]struct {
		s  Sealed
		ad string
	}{
		"another record's ciphertext": {swapped, "tok_a"},
		"other additional data":       {a, "tok_b"},
		"flipped bit":                 {tampered, "tok_a"},
		"truncated":                   {Sealed{Ciphertext: a.Ciphertext[:10], WrappedKey: a.WrappedKey}, "tok_a"},
	} {
		if _, err := opener.Open(ctx, tc.s, []byte(tc.ad)); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: err %v, want ErrOpen", name, err)
		}
	}
	other := New(f, "alias/test", map[string]string{"purpose": "other"})
	if _, err := other.Open(ctx, a, []byte("tok_a")); !errors.Is(err, ErrOpen) {
		t.Errorf("opened under another encryption context: %v", err)
	}
}

func TestKeyCacheBoundsAndEconomy(t *testing.T) {
	f := newFakeKMS()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := New(f, "alias/test", purpose)
	e.Clock = func() time.Time { return now }
	ctx := context.Background()
	seal := func(n int) []Sealed {
		var out []Sealed
		for range n {
			s, err := e.Seal(ctx, []byte("x"), nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	seal(DefaultMaxUses)
	if got := f.generate.Load(); got != 1 {
		t.Fatalf("%d seals made %d GenerateDataKey calls, want 1", DefaultMaxUses, got)
	}
	first := e.cur.plain
	seal(1)
	if got := f.generate.Load(); got != 2 {
		t.Errorf("seal %d made %d calls in all, want 2 (key used up)", DefaultMaxUses+1, got)
	}
	if !bytes.Equal(first, make([]byte, 32)) {
		t.Error("the used-up data key was not zeroed")
	}
	now = now.Add(DefaultMaxAge)
	sealed := seal(500)
	if got := f.generate.Load(); got != 3 {
		t.Errorf("after %v, %d calls in all, want 3 (key too old)", DefaultMaxAge, got)
	}

	for _, s := range sealed {
		if _, err := e.Open(ctx, s, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.decrypt.Load(); got != 1 {
		t.Errorf("500 opens under one data key made %d Decrypt calls, want 1", got)
	}
	opened := e.opened[string(sealed[0].WrappedKey)].plain
	now = now.Add(DefaultMaxAge)
	if _, err := e.Open(ctx, sealed[0], nil); err != nil {
		t.Fatal(err)
	}
	if got := f.decrypt.Load(); got != 2 {
		t.Errorf("open after %v: %d Decrypt calls, want 2", DefaultMaxAge, got)
	}
	if !bytes.Equal(opened, make([]byte, 32)) {
		t.Error("the expired unwrapped key was not zeroed")
	}
	e.Close()
	if e.cur != nil || len(e.opened) != 0 {
		t.Error("Close kept keys")
	}
}

func TestOpenCacheIsBounded(t *testing.T) {
	f := newFakeKMS()
	sealer := New(f, "alias/test", purpose)
	sealer.MaxUses = 1 // a new data key per message
	opener := New(f, "alias/test", purpose)
	opener.MaxOpened = 3
	ctx := context.Background()
	for range 10 {
		s, _ := sealer.Seal(ctx, []byte("x"), nil)
		if _, err := opener.Open(ctx, s, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(opener.opened) != 3 {
		t.Errorf("open cache holds %d keys, want 3", len(opener.opened))
	}
}

func TestKMSFailureIsKMSError(t *testing.T) {
	f := newFakeKMS()
	f.fail.Store(true)
	e := New(f, "alias/test", purpose)
	_, err := e.Seal(context.Background(), []byte("x"), nil)
	var ke *KMSError
	if !errors.As(err, &ke) {
		t.Fatalf("Seal with KMS down: %v, want *KMSError", err)
	}
	f.fail.Store(false)
	if _, err := e.Seal(context.Background(), []byte("x"), nil); err != nil {
		t.Errorf("Seal after KMS recovered: %v", err)
	}
}

// TestConcurrentSeal runs under -race in CI; it also checks that one data key serves all goroutines.
func TestConcurrentSeal(t *testing.T) {
	f := newFakeKMS()
	e := New(f, "alias/test", purpose)
	e.MaxUses = 100
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				ad := []byte{byte(g), byte(i)}
				s, err := e.Seal(context.Background(), ad, ad)
				if err != nil {
					t.Error(err)
					return
				}
				if p, err := e.Open(context.Background(), s, ad); err != nil || !bytes.Equal(p, ad) {
					t.Errorf("open: %q %v", p, err)
				}
			}
		})
	}
	wg.Wait()
	if got := f.generate.Load(); got != 4 {
		t.Errorf("400 seals with 100 uses per key made %d GenerateDataKey calls, want 4", got)
	}
}

func BenchmarkSeal(b *testing.B) {
	e := New(newFakeKMS(), "alias/test", purpose)
	msg := []byte("\x01\x104242424242424242\x00\x00")
	ad := []byte("tok_0123456789abcdef0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Seal(context.Background(), msg, ad); err != nil {
			b.Fatal(err)
		}
	}
}
