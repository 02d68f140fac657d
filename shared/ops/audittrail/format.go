// Package audittrail owns the tamper-evident audit trail in S3, laid out as AWS CloudTrail lays out
// its own: gzip JSON log files of records, hourly digest files that hash them and chain to each other
// under a KMS signature, the shipper that writes the log files, the digester, and the validator.
package audittrail

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Service is the service name in log file keys, as CloudTrail writes it: tools built for CloudTrail
// (the AWS CLI's validate-logs, Athena's CloudTrail table, SIEM inputs) find the files by it.
const Service = resources.TrailService

// DigestService is the service name in digest file keys.
const DigestService = resources.TrailDigestService

// TrailName is the trail's name in digest keys and in the trail ARN the AWS CLI is given
// (arn:aws:cloudtrail:<region>:<account>:trail/vaultbill).
const TrailName = "vaultbill"

// Algorithms named in digest files, as CloudTrail names them.
const (
	HashAlgorithm      = "SHA-256"
	SignatureAlgorithm = "SHA256withRSA"
)

// S3 object metadata keys of a digest file (x-amz-meta-signature, x-amz-meta-signature-algorithm).
const (
	MetaSignature          = "signature"
	MetaSignatureAlgorithm = "signature-algorithm"
)

// Location is where a trail's files live: bucket, account and region.
type Location struct {
	Bucket  string
	Account string
	Region  string
}

// logPrefix is "AWSLogs/<account>/CloudTrail/<region>/".
func (l Location) logPrefix() string {
	return resources.TrailPrefix + l.Account + "/" + Service + "/" + l.Region + "/"
}

func (l Location) digestPrefix() string {
	return resources.TrailPrefix + l.Account + "/" + DigestService + "/" + l.Region + "/"
}

// LogDayPrefix is the prefix of the log files delivered on t's UTC day.
func (l Location) LogDayPrefix(t time.Time) string {
	return l.logPrefix() + t.UTC().Format("2006/01/02/")
}

// DigestDayPrefix is the prefix of the digest files ending on t's UTC day.
func (l Location) DigestDayPrefix(t time.Time) string {
	return l.digestPrefix() + t.UTC().Format("2006/01/02/")
}

// LogKey names a log file delivered at t: ..._<YYYYMMDDTHHmmZ>_<16 random chars>.json.gz. The random
// part keeps concurrent shippers from overwriting each other.
func (l Location) LogKey(t time.Time, random string) string {
	return l.LogDayPrefix(t) + l.Account + "_" + Service + "_" + l.Region + "_" +
		t.UTC().Format(logTimeLayout) + "_" + random + ".json.gz"
}

// DigestKey names the digest file whose period ends at end:
// ..._CloudTrail-Digest_<region>_vaultbill_<home region>_<YYYYMMDDTHHMMSSZ>.json.gz. The trail is
// single-region, so its home region is the region it digests.
func (l Location) DigestKey(end time.Time) string {
	return l.DigestDayPrefix(end) + l.Account + "_" + DigestService + "_" + l.Region + "_" + TrailName + "_" +
		l.Region + "_" + end.UTC().Format(digestTimeLayout) + ".json.gz"
}

const (
	logTimeLayout    = "20060102T1504Z"
	digestTimeLayout = "20060102T150405Z"
)

// LogKeyTime is the delivery time (to the minute) in a log file's key; false if key is not a log key.
func LogKeyTime(key string) (time.Time, bool) {
	base := key[strings.LastIndex(key, "/")+1:]
	if !strings.HasSuffix(base, ".json.gz") {
		return time.Time{}, false
	}
	parts := strings.Split(strings.TrimSuffix(base, ".json.gz"), "_")
	if len(parts) != 5 || parts[1] != Service {
		return time.Time{}, false
	}
	t, err := time.Parse(logTimeLayout, parts[3])
	return t, err == nil
}

// DigestKeyTime is the end time in a digest file's key.
func DigestKeyTime(key string) (time.Time, bool) {
	base := key[strings.LastIndex(key, "/")+1:]
	parts := strings.Split(strings.TrimSuffix(base, ".json.gz"), "_")
	if len(parts) != 6 || parts[1] != DigestService || parts[3] != TrailName || !strings.HasSuffix(base, ".json.gz") {
		return time.Time{}, false
	}
	t, err := time.Parse(digestTimeLayout, parts[5])
	return t, err == nil
}

// randomSuffix is the 16 random characters of a log file name (CloudTrail uses the same shape).
func randomSuffix() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("audittrail: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// LogFile is the body of a log file: {"Records": [...]}, each record exactly as it was committed.
type LogFile struct {
	Records []json.RawMessage `json:"Records"`
}

// Digest is a digest file, field for field as CloudTrail writes them.
type Digest struct {
	AWSAccountID                string        `json:"awsAccountId"`
	DigestStartTime             string        `json:"digestStartTime"`
	DigestEndTime               string        `json:"digestEndTime"`
	DigestS3Bucket              string        `json:"digestS3Bucket"`
	DigestS3Object              string        `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string        `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string        `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string       `json:"newestEventTime"`
	OldestEventTime             *string       `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string       `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string       `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string       `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string       `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string       `json:"previousDigestSignature"`
	LogFiles                    []LogFileHash `json:"logFiles"`
	// ChainStartReason is set on the first digest of a chain only, and says why the chain starts
	// there: a new trail, or the reason an operator gave for starting over. It is part of the signed
	// content, so a restart cannot be passed off as anything else. (Beyond CloudTrail's fields; tools
	// built for CloudTrail ignore it.)
	ChainStartReason string `json:"chainStartReason,omitempty"`
}

// LogFileHash is a digest's entry for one log file.
type LogFileHash struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
	// S3VersionID is the version the shipper wrote (beyond CloudTrail's fields): the validator
	// reports a file whose current version is another one.
	S3VersionID string `json:"s3VersionId,omitempty"`
}

// SigningString is what a digest's signature covers, as CloudTrail defines it: the end time, the
// digest's bucket/key, the hex SHA-256 of its uncompressed content, and the previous digest's
// signature ("null" for the first digest of a chain).
func SigningString(d *Digest, contentHash string) string {
	prev := "null"
	if d.PreviousDigestSignature != nil {
		prev = *d.PreviousDigestSignature
	}
	return d.DigestEndTime + "\n" + d.DigestS3Bucket + "/" + d.DigestS3Object + "\n" + contentHash + "\n" + prev
}

// HashHex is the hex SHA-256 of b.
func HashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b) // writes to a bytes.Buffer cannot fail
	_ = zw.Close()
	return buf.Bytes()
}

// maxUncompressed bounds what a reader inflates: a log file is a few MiB at most, so anything
// larger is a decompression bomb, not a log file.
const maxUncompressed = 256 << 20

// Gunzip decompresses b.
func Gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("not gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxUncompressed+1))
	if err != nil {
		return nil, fmt.Errorf("bad gzip stream: %w", err)
	}
	if len(out) > maxUncompressed {
		return nil, fmt.Errorf("inflates beyond %d bytes", maxUncompressed)
	}
	return out, nil
}

// eventSpan is the oldest and newest eventTime of a log file's records.
type eventSpan struct{ oldest, newest string }

func (s *eventSpan) add(eventTime string) {
	// RFC 3339 UTC with whole seconds sorts as text.
	if s.oldest == "" || eventTime < s.oldest {
		s.oldest = eventTime
	}
	if eventTime > s.newest {
		s.newest = eventTime
	}
}

// ParseLogFile reads an uncompressed log file and returns its event IDs and event time span. A file
// that is not {"Records":[...]} of records with an eventID and eventTime is invalid.
func ParseLogFile(body []byte) (ids []string, oldest, newest string, err error) {
	var f struct {
		Records []struct {
			EventID   string `json:"eventID"`
			EventTime string `json:"eventTime"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, "", "", fmt.Errorf("not a log file: %w", err)
	}
	if f.Records == nil {
		return nil, "", "", fmt.Errorf("not a log file: no Records")
	}
	var span eventSpan
	for i, r := range f.Records {
		if r.EventID == "" || r.EventTime == "" {
			return nil, "", "", fmt.Errorf("record %d has no eventID or eventTime", i)
		}
		ids = append(ids, r.EventID)
		span.add(r.EventTime)
	}
	return ids, span.oldest, span.newest, nil
}
