package audittrail

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The validator reads files an attacker with write access to the bucket may have written: these
// targets feed such files to its readers.

// FuzzParseLogFile checks the log file reader on arbitrary objects (compressed or not): it never
// panics, inflates at most maxUncompressed bytes, and a file it accepts is {"Records":[...]} with an
// eventID and eventTime in every record, its span being the oldest and newest of those times.
func FuzzParseLogFile(f *testing.F) {
	for _, s := range []string{
		`{"Records":[{"eventID":"evt_1","eventTime":"2026-01-02T03:04:05Z"},{"eventID":"evt_2","eventTime":"2026-01-02T03:04:01Z"}]}`,
		`{"Records":[]}`, `{"Records":null}`, `{}`, `[]`, `{"Records":[{"eventID":""}]}`, `{"Records":[1]}`,
		`{"Records":[{"eventID":"a","eventTime":"z"}],"Records":[]}`, `{"records":[{"eventID":"a","eventTime":"b"}]}`,
	} {
		f.Add([]byte(s), true)
		f.Add(Gzip([]byte(s)), false)
	}
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, false)
	f.Fuzz(func(t *testing.T, obj []byte, compress bool) {
		if compress {
			obj = Gzip(obj)
		}
		body, err := Gunzip(obj)
		if err != nil {
			return
		}
		if len(body) > maxUncompressed {
			t.Fatalf("inflated %d bytes", len(body))
		}
		ids, oldest, newest, err := ParseLogFile(body)
		if err != nil {
			return
		}
		var f struct {
			Records []map[string]any `json:"Records"`
		}
		if json.Unmarshal(body, &f) != nil || f.Records == nil || len(f.Records) != len(ids) {
			t.Fatalf("accepted %q as %d records", body, len(ids))
		}
		for _, id := range ids {
			if id == "" {
				t.Fatalf("accepted a record without an eventID: %q", body)
			}
		}
		if len(ids) > 0 && (oldest == "" || newest == "" || oldest > newest) {
			t.Fatalf("span %q..%q of %q", oldest, newest, body)
		}
	})
}

// FuzzKeyTime checks the readers of listed keys: a key read as a log or digest key carries the
// marker and time its layout puts there.
func FuzzKeyTime(f *testing.F) {
	loc := Location{Bucket: "b", Account: "123456789012", Region: "eu-west-1"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, k := range []string{loc.LogKey(at, "abcdefghijklmnop"), loc.DigestKey(at), "", "/", "a_b_c_d_e.json.gz", ".json.gz"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if tm, ok := LogKeyTime(key); ok && (!strings.HasSuffix(key, ".json.gz") || !strings.Contains(key, "_"+Service+"_") || !strings.Contains(key, tm.Format(logTimeLayout))) {
			t.Fatalf("LogKeyTime(%q) = %s", key, tm)
		}
		if tm, ok := DigestKeyTime(key); ok && (!strings.HasSuffix(key, ".json.gz") || !strings.Contains(key, "_"+DigestService+"_") || !strings.Contains(key, tm.Format(digestTimeLayout))) {
			t.Fatalf("DigestKeyTime(%q) = %s", key, tm)
		}
	})
}

// fuzzDigest is one digest signed by the trusted key, as the digester writes it.
var fuzzDigest = sync.OnceValue(func() (d struct {
	kms       *memKMS
	key, sig  string
	body, obj []byte
}) {
	d.kms = newMemKMS()
	loc := Location{Bucket: "trail", Account: "123456789012", Region: "eu-west-1"}
	end := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	d.key = loc.DigestKey(end)
	dg := Digest{
		AWSAccountID: loc.Account, DigestStartTime: "2026-01-02T03:00:00Z", DigestEndTime: "2026-01-02T04:00:00Z",
		DigestS3Bucket: loc.Bucket, DigestS3Object: d.key, DigestPublicKeyFingerprint: Fingerprint(&d.kms.key.PublicKey),
		DigestSignatureAlgorithm: "SHA256withRSA", ChainStartReason: NewTrailReason,
		LogFiles: []LogFileHash{{S3Bucket: loc.Bucket, S3Object: "AWSLogs/x.json.gz", HashValue: HashHex([]byte("x")), HashAlgorithm: "SHA-256"}},
	}
	d.body, _ = json.Marshal(dg)
	sum := sha256.Sum256([]byte(SigningString(&dg, HashHex(d.body))))
	sig, err := rsa.SignPKCS1v15(rand.Reader, d.kms.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	d.sig, d.obj = hex.EncodeToString(sig), Gzip(d.body)
	return d
})

// FuzzCheckDigest checks the digest reader: whatever object and signature metadata sit under a
// digest key, the validator reports it valid only when its content is, byte for byte, what the
// trusted key signed, with that signature. body is the object itself, or (compress) its content.
func FuzzCheckDigest(f *testing.F) {
	d := fuzzDigest()
	f.Add(d.obj, false, d.sig)
	f.Add(d.body, true, d.sig)
	f.Add(d.body, true, strings.ToUpper(d.sig))
	f.Add(bytes.Replace(d.body, []byte("03:00:00"), []byte("02:00:00"), 1), true, d.sig)
	f.Add(bytes.Replace(d.body, []byte(`"logFiles":[`), []byte(`"logFiles":[],"LogFiles":[`), 1), true, d.sig)
	f.Add(append(bytes.Clone(d.body), ' '), true, d.sig)
	f.Add([]byte(`{}`), true, "")
	f.Add([]byte(`not gzip`), false, "zz")
	keys := map[string]*rsa.PublicKey{Fingerprint(&d.kms.key.PublicKey): &d.kms.key.PublicKey}
	check := func(obj []byte, sig string) *digestState {
		s3c := newMemS3()
		_, _ = s3c.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String("trail"), Key: aws.String(d.key), Body: bytes.NewReader(obj), Metadata: map[string]string{MetaSignature: sig},
		})
		v := &Validator{S3: s3c, Location: Location{Bucket: "trail", Account: "123456789012", Region: "eu-west-1"}}
		return v.checkDigest(context.Background(), keys, d.key)
	}
	if ds := check(d.obj, d.sig); !ds.result.Valid { // the property below must be able to fail
		f.Fatalf("the signed digest is not valid: %s", ds.result.Reason)
	}
	f.Fuzz(func(t *testing.T, obj []byte, compress bool, sig string) {
		if compress {
			obj = Gzip(obj)
		}
		ds := check(obj, sig)
		if !ds.result.Valid {
			if ds.result.Reason == "" {
				t.Fatal("invalid digest reported without a reason")
			}
			return
		}
		body, err := Gunzip(obj)
		got, _ := hex.DecodeString(sig)
		want, _ := hex.DecodeString(d.sig)
		if err != nil || !bytes.Equal(body, d.body) || !bytes.Equal(got, want) || !ds.signed {
			t.Fatalf("reported valid: content %q, signature %q", body, sig)
		}
	})
}
