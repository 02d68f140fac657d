package audittrail

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// memS3 is a small in-memory versioned bucket for unit tests and CPU benchmarks; the integration
// tests use moto.
type memS3 struct {
	mu      sync.Mutex
	objects map[string][]memObject // versions, oldest first
	puts    int
	seq     int
	// failPut, if set, fails the PUT of a key it returns true for.
	failPut func(key string) bool
}

type memObject struct {
	body    []byte
	meta    map[string]string
	version string
}

func newMemS3() *memS3 { return &memS3{objects: map[string][]memObject{}} }

func (m *memS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, _ := io.ReadAll(in.Body)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut != nil && m.failPut(*in.Key) {
		return nil, errors.New("injected PUT failure")
	}
	m.puts++
	m.seq++
	v := strconv.Itoa(m.seq)
	m.objects[*in.Key] = append(m.objects[*in.Key], memObject{body: body, meta: in.Metadata, version: v})
	return &s3.PutObjectOutput{VersionId: aws.String(v)}, nil
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.objects[*in.Key]
	if len(vs) == 0 {
		return nil, &s3types.NoSuchKey{}
	}
	o := vs[len(vs)-1]
	if in.VersionId != nil {
		for _, v := range vs {
			if v.version == *in.VersionId {
				o = v
			}
		}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.body)), Metadata: o.meta, VersionId: aws.String(o.version)}, nil
}

func (m *memS3) ListObjectVersions(_ context.Context, in *s3.ListObjectVersionsInput, _ ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &s3.ListObjectVersionsOutput{}
	for k, vs := range m.objects {
		if !strings.HasPrefix(k, aws.ToString(in.Prefix)) {
			continue
		}
		for i := len(vs) - 1; i >= 0; i-- {
			out.Versions = append(out.Versions, s3types.ObjectVersion{Key: aws.String(k), VersionId: aws.String(vs[i].version), IsLatest: aws.Bool(i == len(vs)-1)})
		}
	}
	return out, nil
}

func (m *memS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix := aws.ToString(in.Prefix)
	out := &s3.ListObjectsV2Output{}
	seen := map[string]bool{}
	var keys []string
	for k := range m.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if d := aws.ToString(in.Delimiter); d != "" {
			if i := strings.Index(k[len(prefix):], d); i >= 0 {
				cp := k[:len(prefix)+i+1]
				if !seen[cp] {
					seen[cp] = true
					out.CommonPrefixes = append(out.CommonPrefixes, s3types.CommonPrefix{Prefix: aws.String(cp)})
				}
				continue
			}
		}
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
	}
	return out, nil
}

// memKMS signs with an RSA key as KMS's RSASSA_PKCS1_V1_5_SHA_256 does.
type memKMS struct{ key *rsa.PrivateKey }

func newMemKMS() *memKMS {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return &memKMS{key: k}
}

func (k *memKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	sum := sha256.Sum256(in.Message)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, sum[:])
	return &kms.SignOutput{Signature: sig}, err
}

func (k *memKMS) GetPublicKey(_ context.Context, _ *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
	return &kms.GetPublicKeyOutput{PublicKey: der}, err
}
