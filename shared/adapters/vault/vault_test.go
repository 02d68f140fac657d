package vault

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/domain/card"
)

// keyOnlyKMS hands out random data keys; the floor benchmark needs nothing else.
type keyOnlyKMS struct{ envelope.KMS }

func (keyOnlyKMS) GenerateDataKey(context.Context, *kms.GenerateDataKeyInput, ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &kms.GenerateDataKeyOutput{Plaintext: k, CiphertextBlob: []byte("wrapped"), KeyId: aws.String("key")}, nil
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, name := range []string{"", "sealed name bytes", strings.Repeat("é", card.MaxNameLength)} {
		version, pan, got, err := decodePayload(encodePayload(card.NewPAN([]byte("4111111111111111003")), []byte(name)))
		if err != nil || version != payloadVersion || !pan.Equal("4111111111111111003") || string(got) != name {
			t.Errorf("round trip of name %q: %d %q %v", name, version, got, err)
		}
	}
	// A version 1 payload (the name in clear) still decodes: tokens stored before version 2 open.
	v1 := append([]byte{payloadV1, 4}, "4242\x00\x03Ada"...)
	if version, pan, name, err := decodePayload(v1); err != nil || version != payloadV1 || !pan.Equal("4242") || string(name) != "Ada" {
		t.Errorf("version 1 payload: %d %q %v", version, name, err)
	}
	for _, bad := range [][]byte{nil, {3, 0, 0, 0}, {1, 16, '4'}, {2, 1, '4', 0, 5, 'a'}} {
		if _, _, _, err := decodePayload(bad); err == nil {
			t.Errorf("decodePayload(%v) accepted a malformed payload", bad)
		}
	}
}

// BenchmarkSealAndFingerprint is the crypto floor of a tokenization: the keyed fingerprint and the
// seal of one card number under a cached data key, with no I/O.
func BenchmarkSealAndFingerprint(b *testing.B) {
	v := New(Config{KMS: keyOnlyKMS{}, KeyID: "key"})
	v.fpKey = make([]byte, 32)
	c := card.Card{Number: card.NewPAN([]byte("4242424242424242")), Brand: card.Visa, Name: "Ada Lovelace"}
	ctx := context.Background()
	id := NewTokenID()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Fingerprint(ctx, c.Number); err != nil {
			b.Fatal(err)
		}
		p := encodePayload(c.Number, nil)
		if _, err := v.env.Seal(ctx, p, []byte(id)); err != nil {
			b.Fatal(err)
		}
		clear(p)
	}
}
