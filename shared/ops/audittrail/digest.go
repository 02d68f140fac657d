package audittrail

import (
	"context"
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ReadAPI is the S3 reads the digester and the validator make.
type ReadAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	VersionsAPI
}

// DigestS3API is the S3 calls of the digester.
type DigestS3API interface {
	ReadAPI
	PutObjectAPI
}

// PublicKeyAPI fetches a KMS key's public key.
type PublicKeyAPI interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// SignAPI is the KMS calls of the digester.
type SignAPI interface {
	PublicKeyAPI
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
}

// DefaultLag is how far behind the clock a digest period ends. A log file is named for the minute
// its shipper started writing it; the shipper's timeout is well under this, so every file named for
// a minute is in S3 before the digest covering that minute lists it.
const DefaultLag = 5 * time.Minute

// Digester writes the hourly digest files.
type Digester struct {
	S3  DigestS3API
	KMS SignAPI
	// KeyID is the audit-signing key (RSA_2048, SIGN_VERIFY).
	KeyID string
	Location
	Lag time.Duration
	// Ledger holds the shipper's record of each file (version and hash); without one, or for a file
	// it has no record of, the digester hashes the file's first version as S3 holds it.
	Ledger Ledger
	// NewChainReason, when set, lets Run start a new chain although digest files exist (their chain
	// cannot be continued); the reason goes into the new chain's first digest.
	NewChainReason string
	Log            *slog.Logger

	fingerprint string
}

// ErrNoPredecessor is returned when digest files exist but none can be chained to: the digester
// never starts a new chain on its own then, as that would hide whatever broke the old one.
var ErrNoPredecessor = errors.New("digest files exist but no previous digest can be read to chain to; start a new chain with a reason (vaultbill audit digest --new-chain REASON) once the cause is known")

// NewTrailReason is the chain start reason of a trail's very first digest.
const NewTrailReason = "new trail: no digest file existed"

// Fingerprint identifies a public key in digest files as CloudTrail does: the hex MD5 of the key's
// PKCS #1 DER encoding, the bytes ListPublicKeys serves (base64) and the AWS CLI loads. MD5 is only a
// name here: the key itself, fetched from a trusted source, is what verifies the signature.
func Fingerprint(pub *rsa.PublicKey) string {
	sum := md5.Sum(x509.MarshalPKCS1PublicKey(pub))
	return hex.EncodeToString(sum[:])
}

// ParsePublicKey reads the DER SubjectPublicKeyInfo that KMS GetPublicKey returns.
func ParsePublicKey(spki []byte) (*rsa.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, err
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA public key")
	}
	return rsaPub, nil
}

func (d *Digester) keyFingerprint(ctx context.Context) (string, error) {
	if d.fingerprint != "" {
		return d.fingerprint, nil
	}
	out, err := d.KMS.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(d.KeyID)})
	if err != nil {
		return "", fmt.Errorf("get public key of %s: %w", d.KeyID, err)
	}
	pub, err := ParsePublicKey(out.PublicKey)
	if err != nil {
		return "", fmt.Errorf("public key of %s: %w", d.KeyID, err)
	}
	d.fingerprint = Fingerprint(pub)
	return d.fingerprint, nil
}

// DigestResult says what Run wrote.
type DigestResult struct {
	Key      string
	Digest   *Digest
	LogFiles int
	// Skipped is true when the latest digest already covers the period (a retried schedule).
	Skipped bool
	// Tampered lists the log files whose S3 history differs from the shipper's single write
	// (replaced, deleted, or not the content the shipper hashed); the digest lists what the shipper
	// wrote, so validation reports them too.
	Tampered []string
}

// Run writes the digest for the period since the previous digest up to at minus the lag. A digest is
// written even when no log file was delivered, so a gap in the chain always means a missing digest.
func (d *Digester) Run(ctx context.Context, at time.Time) (DigestResult, error) {
	lag := d.Lag
	if lag == 0 {
		lag = DefaultLag
	}
	end := at.Add(-lag).UTC().Truncate(time.Minute)
	prev, err := d.latest(ctx, end)
	if err != nil {
		return DigestResult{}, err
	}
	var start time.Time
	reason := ""
	switch {
	case prev != nil && !prev.end.Before(end):
		return DigestResult{Key: prev.key, Skipped: true}, nil
	case prev != nil:
		start = prev.end
	default:
		if reason = d.NewChainReason; reason == "" {
			out, err := d.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{
				Bucket: aws.String(d.Bucket), Prefix: aws.String(d.digestPrefix()), MaxKeys: aws.Int32(1),
			})
			if err != nil {
				return DigestResult{}, fmt.Errorf("list digest files: %w", err)
			}
			// Any version or delete marker: a chain existed, and this is not a new trail.
			if len(out.Versions) > 0 || len(out.DeleteMarkers) > 0 {
				return DigestResult{}, ErrNoPredecessor
			}
			reason = NewTrailReason
		}
		if start, err = d.firstStart(ctx, end); err != nil {
			return DigestResult{}, err
		}
	}
	fp, err := d.keyFingerprint(ctx)
	if err != nil {
		return DigestResult{}, err
	}
	files, tampered, err := d.hashLogFiles(ctx, start, end)
	if err != nil {
		return DigestResult{}, err
	}
	key := d.DigestKey(end)
	dg := &Digest{
		AWSAccountID:               d.Account,
		DigestStartTime:            start.Format(time.RFC3339),
		DigestEndTime:              end.Format(time.RFC3339),
		DigestS3Bucket:             d.Bucket,
		DigestS3Object:             key,
		DigestPublicKeyFingerprint: fp,
		DigestSignatureAlgorithm:   SignatureAlgorithm,
		LogFiles:                   files,
		ChainStartReason:           reason,
	}
	var span eventSpan
	for _, f := range files {
		if f.OldestEventTime != "" {
			span.add(f.OldestEventTime)
			span.add(f.NewestEventTime)
		}
	}
	if span.oldest != "" {
		dg.OldestEventTime, dg.NewestEventTime = &span.oldest, &span.newest
	}
	if prev != nil {
		dg.PreviousDigestS3Bucket = aws.String(d.Bucket)
		dg.PreviousDigestS3Object = aws.String(prev.key)
		dg.PreviousDigestHashValue = aws.String(prev.hash)
		dg.PreviousDigestHashAlgorithm = aws.String(HashAlgorithm)
		dg.PreviousDigestSignature = aws.String(prev.signature)
	}
	body, err := json.Marshal(dg)
	if err != nil {
		return DigestResult{}, fmt.Errorf("marshal digest %s: %w", key, err)
	}
	sig, err := SignDigest(ctx, d.KMS, d.KeyID, dg, body)
	if err != nil {
		return DigestResult{}, err
	}
	meta := map[string]string{MetaSignature: sig, MetaSignatureAlgorithm: SignatureAlgorithm}
	if _, err := putGzip(ctx, d.S3, d.Bucket, key, body, meta); err != nil {
		return DigestResult{}, fmt.Errorf("write digest s3://%s/%s: %w", d.Bucket, key, err)
	}
	if d.Log != nil {
		d.Log.Info("audit digest written", "key", key, "log_files", len(files), "start", dg.DigestStartTime, "end", dg.DigestEndTime)
	}
	return DigestResult{Key: key, Digest: dg, LogFiles: len(files), Tampered: tampered}, nil
}

// SignDigest signs a digest's signing string with the KMS key (RSASSA_PKCS1_V1_5_SHA_256) and returns
// the signature in hex, as it goes into the object's metadata.
func SignDigest(ctx context.Context, api SignAPI, keyID string, d *Digest, body []byte) (string, error) {
	sig, err := api.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(keyID),
		Message:          []byte(SigningString(d, HashHex(body))),
		MessageType:      kmstypes.MessageTypeRaw,
		SigningAlgorithm: kmstypes.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
	})
	if err != nil {
		return "", fmt.Errorf("sign digest %s with %s: %w", d.DigestS3Object, keyID, err)
	}
	return hex.EncodeToString(sig.Signature), nil
}

// previous is the latest digest: where it is, when it ends, its content hash and signature.
type previous struct {
	key, hash, signature string
	end                  time.Time
}

// latest finds the newest digest ending at or before end, walking the year/month/day prefixes down
// from the newest so the cost does not grow with the trail's age.
func (d *Digester) latest(ctx context.Context, end time.Time) (*previous, error) {
	key, err := findKey(ctx, d.S3, d.Bucket, d.digestPrefix(), 3, true, func(k string) bool {
		t, ok := DigestKeyTime(k)
		return ok && !t.After(end)
	})
	if err != nil || key == "" {
		return nil, err
	}
	obj, err := getObject(ctx, d.S3, d.Bucket, key)
	if err != nil {
		return nil, fmt.Errorf("read previous digest: %w", err)
	}
	body, err := Gunzip(obj.body)
	if err != nil {
		return nil, fmt.Errorf("previous digest s3://%s/%s: %w", d.Bucket, key, err)
	}
	var pd Digest
	if err := json.Unmarshal(body, &pd); err != nil {
		return nil, fmt.Errorf("previous digest s3://%s/%s: %w", d.Bucket, key, err)
	}
	pend, err := time.Parse(time.RFC3339, pd.DigestEndTime)
	if err != nil {
		return nil, fmt.Errorf("previous digest s3://%s/%s: end time: %w", d.Bucket, key, err)
	}
	return &previous{key: key, hash: HashHex(body), signature: obj.meta[MetaSignature], end: pend}, nil
}

// firstStart is where a new chain starts: the day of the oldest log file, so no file is left out.
func (d *Digester) firstStart(ctx context.Context, end time.Time) (time.Time, error) {
	key, err := findKey(ctx, d.S3, d.Bucket, d.logPrefix(), 3, false, func(k string) bool {
		_, ok := LogKeyTime(k)
		return ok
	})
	if err != nil {
		return time.Time{}, err
	}
	if t, ok := LogKeyTime(key); ok && t.Before(end) {
		return t.Truncate(24 * time.Hour), nil
	}
	return end.Add(-time.Hour), nil
}

// hashLogFiles lists the log files named for minutes in [start, end). Each entry is the shipper's
// record of the file (version and hash, no read of the file needed); a file without one is hashed as
// its first version stands. Files whose history is not a single write are returned as tampered.
func (d *Digester) hashLogFiles(ctx context.Context, start, end time.Time) ([]LogFileHash, []string, error) {
	versions, err := listVersionsByDay(ctx, d.S3, d.Bucket, d.LogDayPrefix, start, end.Add(-time.Nanosecond))
	if err != nil {
		return nil, nil, err
	}
	var keys []string
	for k := range versions {
		if t, ok := LogKeyTime(k); ok && !t.Before(start) && t.Before(end) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	records := map[string]FileRecord{}
	if d.Ledger != nil && len(keys) > 0 {
		if records, err = d.Ledger.Lookup(ctx, keys, false); err != nil {
			return nil, nil, err
		}
	}
	out := make([]LogFileHash, 0, len(keys))
	var tampered []string
	for _, key := range keys {
		kv := versions[key]
		f := LogFileHash{S3Bucket: d.Bucket, S3Object: key, HashAlgorithm: HashAlgorithm}
		why := kv.tampered()
		if rec, ok := records[key]; ok {
			f.S3VersionID, f.HashValue, f.OldestEventTime, f.NewestEventTime = rec.VersionID, rec.Hash, rec.Oldest, rec.Newest
			if why == "" && kv.latest != rec.VersionID {
				why = ReasonReplaced
			}
		} else if len(kv.versions) > 0 {
			f.S3VersionID = kv.versions[0]
			obj, err := getObjectVersion(ctx, d.S3, d.Bucket, key, f.S3VersionID)
			if err != nil {
				return nil, nil, fmt.Errorf("read log file for digest: %w", err)
			}
			body, err := Gunzip(obj.body)
			if err != nil {
				body = obj.body // hash what is there; the validator will report the file's format
			}
			f.HashValue = HashHex(body)
			if _, oldest, newest, err := ParseLogFile(body); err == nil {
				f.OldestEventTime, f.NewestEventTime = oldest, newest
			} else {
				why = ReasonFormat
			}
		} else {
			continue // only delete markers: nothing was ever written under this key
		}
		if why != "" {
			tampered = append(tampered, key+": "+why)
			if d.Log != nil {
				d.Log.Error("audit log file tampered with before its digest", "key", key, "reason", why)
			}
		}
		out = append(out, f)
	}
	return out, tampered, nil
}

// listLogKeys lists the log files whose names carry a minute in [start, end), in key order.
func listLogKeys(ctx context.Context, api ReadAPI, loc Location, start, end time.Time) ([]string, error) {
	var out []string
	for day := start.UTC().Truncate(24 * time.Hour); day.Before(end); day = day.Add(24 * time.Hour) {
		keys, err := listAll(ctx, api, loc.Bucket, loc.LogDayPrefix(day))
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if t, ok := LogKeyTime(k); ok && !t.Before(start) && t.Before(end) {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

func listAll(ctx context.Context, api ReadAPI, bucket, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// findKey walks depth levels of "/"-separated prefixes under prefix (year, month, day), newest or
// oldest first, and returns the first key below them that accept takes ("" when none does).
func findKey(ctx context.Context, api ReadAPI, bucket, prefix string, depth int, newest bool, accept func(string) bool) (string, error) {
	if depth == 0 {
		keys, err := listAll(ctx, api, bucket, prefix)
		if err != nil {
			return "", err
		}
		sort.Strings(keys)
		for i := range keys {
			k := keys[i]
			if newest {
				k = keys[len(keys)-1-i]
			}
			if accept(k) {
				return k, nil
			}
		}
		return "", nil
	}
	var subs []string
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			subs = append(subs, aws.ToString(cp.Prefix))
		}
	}
	sort.Strings(subs)
	if newest {
		sort.Sort(sort.Reverse(sort.StringSlice(subs)))
	}
	for _, sub := range subs {
		k, err := findKey(ctx, api, bucket, sub, depth-1, newest, accept)
		if err != nil || k != "" {
			return k, err
		}
	}
	return "", nil
}

type object struct {
	body    []byte
	meta    map[string]string
	version string
}

// errNotFound marks an object that is not there (deleted, or never written).
var errNotFound = errors.New("not found")

func getObject(ctx context.Context, api ReadAPI, bucket, key string) (object, error) {
	return getObjectVersion(ctx, api, bucket, key, "")
}

// getObjectVersion reads one version of key ("" for the current one).
func getObjectVersion(ctx context.Context, api ReadAPI, bucket, key, version string) (object, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := api.GetObject(ctx, in)
	if err != nil {
		var nsk *s3types.NoSuchKey
		var re *awshttp.ResponseError
		if errors.As(err, &nsk) || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound) {
			return object{}, fmt.Errorf("s3://%s/%s: %w", bucket, key, errNotFound)
		}
		return object{}, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, maxUncompressed))
	if err != nil {
		return object{}, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	meta := map[string]string{}
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	return object{body: body, meta: meta, version: aws.ToString(out.VersionId)}, nil
}
