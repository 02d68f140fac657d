package stacktest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
)

// CardNumbersAtRest scans everything s stores, every item of every table and every version of every
// object in every bucket whose name carries the stack's prefix, and the logs of the test binary, and
// returns where a card number (a Luhn-valid 13-19 digit run, as logging.ContainsPAN finds them)
// appears in clear. The vault's sealed cards are ciphertext and do not match.
//
// Two kinds of text the API writes by design are set aside, because random digits in them pass the
// Luhn check one time in ten: lower-case hex strings of 32 or more characters (ids, hashes,
// fingerprints, digest signatures; nothing a client sends can become one) and numbers (DynamoDB N
// attributes, the millisecond timestamps of EMF lines: times and amounts).
func CardNumbersAtRest(tb testing.TB, s *devstack.Stack) []string {
	tb.Helper()
	return AtRest(tb, s, func(text string) bool { return hasPAN(emfTimestamp.ReplaceAllString(text, "")) })
}

// StringsAtRest is AtRest for plaintext values that must be stored nowhere (a customer's name and
// email): it returns where any of them appears, case-insensitively.
func StringsAtRest(tb testing.TB, s *devstack.Stack, values ...string) []string {
	tb.Helper()
	return AtRest(tb, s, func(text string) bool {
		lower := strings.ToLower(text)
		for _, v := range values {
			if strings.Contains(lower, strings.ToLower(v)) {
				return true
			}
		}
		return false
	})
}

// AtRest scans everything s stores (every item of every table and every version of every object in
// every bucket whose name carries the stack's prefix, gzip bodies decompressed) and the logs of the
// test binary, and returns where match reports a hit (item attributes, object keys and bodies, lines).
func AtRest(tb testing.TB, s *devstack.Stack, match func(text string) bool) []string {
	tb.Helper()
	ctx := context.Background()
	var found []string
	db := dynamodb.NewFromConfig(s.Env.AWS)
	tables, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		tb.Fatalf("list tables: %v", err)
	}
	for _, table := range tables.TableNames {
		if strings.HasPrefix(table, s.Names.Prefix) {
			found = append(found, matchesInTable(tb, db, table, match)...)
		}
	}
	s3c := s3client.New(s.Env.AWS)
	buckets, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		tb.Fatalf("list buckets: %v", err)
	}
	for _, b := range buckets.Buckets {
		if name := aws.ToString(b.Name); strings.HasPrefix(name, s.Names.Prefix) {
			found = append(found, matchesInBucket(tb, s3c, name, match)...)
		}
	}
	for i, line := range strings.Split(Logs.String(), "\n") {
		if match(line) {
			found = append(found, fmt.Sprintf("log line %d", i+1))
		}
	}
	return found
}

func matchesInTable(tb testing.TB, db *dynamodb.Client, table string, match func(string) bool) []string {
	tb.Helper()
	var found []string
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		out, err := db.Scan(context.Background(), in)
		if err != nil {
			tb.Fatalf("scan %s: %v", table, err)
		}
		for i, item := range out.Items {
			for name, v := range item {
				if attributeMatches(v, match) {
					found = append(found, fmt.Sprintf("table %s item %d attribute %s", table, i, name))
				}
			}
		}
		if out.LastEvaluatedKey == nil {
			return found
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func attributeMatches(v types.AttributeValue, match func(string) bool) bool {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return match(v.Value)
	case *types.AttributeValueMemberB:
		return match(string(v.Value))
	case *types.AttributeValueMemberSS:
		return match(strings.Join(v.Value, "\n"))
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			if attributeMatches(e, match) {
				return true
			}
		}
	case *types.AttributeValueMemberM:
		for k, e := range v.Value {
			if match(k) || attributeMatches(e, match) {
				return true
			}
		}
	}
	return false
}

func matchesInBucket(tb testing.TB, c *s3.Client, bucket string, match func(string) bool) []string {
	tb.Helper()
	ctx := context.Background()
	var found []string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	for {
		out, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			tb.Fatalf("list versions of %s: %v", bucket, err)
		}
		for _, v := range out.Versions {
			key := aws.ToString(v.Key)
			if match(key) {
				found = append(found, fmt.Sprintf("s3://%s key %s", bucket, logging.Redact(key)))
			}
			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: v.Key, VersionId: v.VersionId})
			if err != nil {
				tb.Fatalf("get s3://%s/%s?versionId=%s: %v", bucket, key, aws.ToString(v.VersionId), err)
			}
			body, err := io.ReadAll(obj.Body)
			_ = obj.Body.Close()
			if err != nil {
				tb.Fatalf("read s3://%s/%s: %v", bucket, key, err)
			}
			if match(string(maybeGunzip(body))) {
				found = append(found, fmt.Sprintf("s3://%s/%s version %s", bucket, logging.Redact(key), aws.ToString(v.VersionId)))
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return found
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
}

// maybeGunzip returns the decompressed content of a gzip object (CloudTrail log files are gzipped),
// or b as it is.
func maybeGunzip(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b
	}
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return b
	}
	return out
}

var (
	hexBlob      = regexp.MustCompile(`\b[0-9a-f]{32,}\b`)
	emfTimestamp = regexp.MustCompile(`"Timestamp":[0-9]+`)
)

// hasPAN is logging.ContainsPAN over s without its long hex strings.
func hasPAN(s string) bool { return logging.ContainsPAN(hexBlob.ReplaceAllString(s, "#")) }
