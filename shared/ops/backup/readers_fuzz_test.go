package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	stypes "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
)

// The restore reads a manifest and parts from a bucket an attacker may have written to; these targets
// feed such objects to its readers with a fixed data key.

var (
	fuzzPlainKey = bytes.Repeat([]byte{7}, 32)
	fuzzWrapped  = []byte("wrapped-data-key")
)

// fuzzKMS unwraps fuzzWrapped under the backup's encryption context, as KMS would, and nothing else.
type fuzzKMS struct{ KMSAPI }

func (fuzzKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if !bytes.Equal(in.CiphertextBlob, fuzzWrapped) || !reflect.DeepEqual(in.EncryptionContext, encryptionContext("billing", "20260102T030405Z")) {
		return nil, errors.New("InvalidCiphertextException")
	}
	return &kms.DecryptOutput{Plaintext: bytes.Clone(fuzzPlainKey)}, nil
}

// fuzzS3 serves one object body under any key.
type fuzzS3 struct {
	S3API
	body []byte
}

func (s fuzzS3) GetObject(_ context.Context, _ *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if s.body == nil {
		return nil, &stypes.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(s.body))}, nil
}

func fuzzDataKey(tb testing.TB) *dataKey {
	k, err := envelope.NewKey(bytes.Clone(fuzzPlainKey))
	if err != nil {
		tb.Fatal(err)
	}
	return &dataKey{key: k, keyID: "arn:aws:kms:eu-west-1:123456789012:key/backup", wrapped: fuzzWrapped}
}

// fuzzManifest is a manifest as a backup writes it, with its MAC, and its stored bytes.
func fuzzManifest(tb testing.TB) (*Manifest, []byte) {
	m := &Manifest{
		Format: FormatVersion, ID: "20260102T030405Z", Table: "billing", SourceTable: "vaultbill-billing",
		ScanStart: "2026-01-02T03:04:05Z", ScanEnd: "2026-01-02T03:04:09Z", ItemCount: 3, Bytes: 300,
		Checksum: "00", Cipher: Cipher, KeyID: "arn:aws:kms:eu-west-1:123456789012:key/backup", WrappedKey: fuzzWrapped,
		Segments: 1, Parts: []Part{{Key: "backups/billing/20260102T030405Z/part-0000.ndjson.gz.enc", Items: 3, Size: 120, SHA256: "ab"}},
	}
	body, err := m.canonical()
	if err != nil {
		tb.Fatal(err)
	}
	m.MAC = fuzzDataKey(tb).mac(body)
	full, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return m, full
}

// FuzzManifest checks the manifest reader: whatever sits under a manifest key, it is accepted only
// when its content is exactly the manifest the backup authenticated (the same fields, under a MAC);
// any change to a field, the MAC or the wrapped key is refused.
func FuzzManifest(f *testing.F) {
	good, stored := fuzzManifest(f)
	open := func(body []byte) (*Manifest, error) {
		r := &Runner{S3: fuzzS3{body: body}, KMS: fuzzKMS{}, Bucket: "b"}
		m, err := r.readManifest(context.Background(), good.Table, good.ID)
		if err != nil {
			return nil, err
		}
		_, err = r.openManifest(context.Background(), m)
		return m, err
	}
	if _, err := open(stored); err != nil { // the property below must be able to fail
		f.Fatalf("the authenticated manifest is refused: %v", err)
	}
	f.Add(stored)
	f.Add(bytes.Replace(stored, []byte(`"itemCount": 3`), []byte(`"itemCount": 4`), 1))
	f.Add(bytes.Replace(stored, []byte(`"itemCount": 3`), []byte(`"itemCount": 3, "ItemCount": 4`), 1))
	f.Add(bytes.Replace(stored, []byte(`"mac"`), []byte(`"MAC"`), 1))
	f.Add(bytes.Replace(stored, []byte(`"format": 1`), []byte(`"format": 1.0`), 1))
	f.Add([]byte(`{"format":1,"backupId":"20260102T030405Z","table":"billing","cipher":"AES-256-GCM"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := open(body)
		if err != nil {
			return
		}
		// The MAC's nonce is random, so each run seals its own; the content must be the authenticated one.
		got, want := *m, *good
		got.MAC, want.MAC = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("a manifest other than the authenticated one verifies: %+v", m)
		}
	})
}

// FuzzPart checks the part reader: a sealed part opens only to the plaintext sealed for its object
// key, and every line of an opened part that decodes re-encodes to the same item.
func FuzzPart(f *testing.F) {
	k := fuzzDataKey(f)
	const key = "backups/billing/20260102T030405Z/part-0000.ndjson.gz.enc"
	var plain bytes.Buffer
	zw := gzip.NewWriter(&plain)
	_, _ = zw.Write([]byte(`{"Item":{"pk":{"S":"CUS#1"},"n":{"N":"5"}}}` + "\n"))
	_ = zw.Close()
	sealed := k.seal(key, plain.Bytes())
	if _, err := k.open(key, sealed); err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(sealed[:len(sealed)-1])
	f.Add(append(bytes.Clone(sealed), 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := k.open(key, b)
		if err != nil {
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("refusal %v is not ErrTampered", err)
			}
			return
		}
		// Sealing draws a random nonce, so each run seals its own copy: only what was sealed opens.
		if !bytes.Equal(pt, plain.Bytes()) {
			t.Fatalf("a part other than the sealed one opens")
		}
	})
}

// FuzzDecodeItem checks the export line reader: a line that decodes is an item that encodes back to
// a line decoding to the same item, so a restore writes exactly what the line says.
func FuzzDecodeItem(f *testing.F) {
	for _, s := range []string{
		`{"Item":{"pk":{"S":"CUS#1"},"n":{"N":"5"},"b":{"B":"AAE="},"ok":{"BOOL":true},"z":{"NULL":true}}}`,
		`{"Item":{"l":{"L":[{"S":"a"},{"M":{"x":{"N":"1"}}}]},"ss":{"SS":["a","b"]},"ns":{"NS":["1"]},"bs":{"BS":["AA=="]}}}`,
		`{"Item":{"x":{"S":"a","N":"1"}}}`, `{"Item":{"x":{}}}`, `{"Item":null}`, `{"Item":{}}`, `{"item":{}}`,
		`{"Item":{"x":{"S":"a"}},"Extra":1}`, `{"Item":{"x":{"N":"1e400"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		item, err := DecodeItem(b)
		if err != nil {
			return
		}
		line, err := EncodeItem(item)
		if err != nil {
			t.Fatalf("decoded item %v does not encode: %v", item, err)
		}
		again, err := DecodeItem(line)
		if err != nil || !reflect.DeepEqual(item, again) {
			t.Fatalf("item %v re-encodes as %s, decoding to %v (%v)", item, line, again, err)
		}
	})
}
