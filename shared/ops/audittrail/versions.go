package audittrail

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersionsAPI lists object versions. The audit bucket is versioned (Object Lock), so a replaced file
// keeps its first version and a deleted one leaves a delete marker: both are visible to a reader.
type VersionsAPI interface {
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, opts ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
}

// keyVersions is what S3 holds under one key.
type keyVersions struct {
	// versions are the object versions, oldest first; latest is the current one's id.
	versions []string
	latest   string
	// deleted counts delete markers; current is false when the newest entry is a delete marker.
	deleted int
	current bool
}

// tampered says how a key's history differs from a single write ("" when it does not). Versions that
// all hold the same bytes are one write sent again (listVersions collapses them to the latest).
func (kv *keyVersions) tampered() string {
	switch {
	case kv.deleted > 0:
		return ReasonDeleteMarker
	case len(kv.versions) > 1:
		return fmt.Sprintf("%s (%d versions)", ReasonReplaced, len(kv.versions))
	}
	return ""
}

// listVersions returns every key's versions under prefix.
//
// A key with several versions of the same bytes was written once: the SDK retries a PUT whose answer
// was lost after S3 stored it, and the retry stores the same request body again as a new version.
// Such a key counts as its latest version alone (the one whose id the writer was given). Versions
// that differ are a replacement, whatever their order. Only keys with more than one version are read.
func listVersions(ctx context.Context, api ReadAPI, bucket, prefix string) (map[string]*keyVersions, error) {
	out := map[string]*keyVersions{}
	get := func(k string) *keyVersions {
		kv := out[k]
		if kv == nil {
			kv = &keyVersions{}
			out[k] = kv
		}
		return kv
	}
	entries := map[string][]string{}
	p := s3.NewListObjectVersionsPaginator(api, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list versions of s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, v := range page.Versions {
			k := aws.ToString(v.Key)
			kv := get(k)
			if aws.ToBool(v.IsLatest) {
				kv.latest, kv.current = aws.ToString(v.VersionId), true
			}
			entries[k] = append(entries[k], aws.ToString(v.VersionId))
		}
		for _, m := range page.DeleteMarkers {
			get(aws.ToString(m.Key)).deleted++
		}
	}
	for k, es := range entries {
		// S3 lists a key's versions newest first.
		kv := out[k]
		for i := len(es) - 1; i >= 0; i-- {
			kv.versions = append(kv.versions, es[i])
		}
		if len(kv.versions) > 1 && kv.deleted == 0 && kv.current {
			same, err := sameBytes(ctx, api, bucket, k, kv.versions)
			if err != nil {
				return nil, err
			}
			if same {
				kv.versions = []string{kv.latest}
			}
		}
	}
	return out, nil
}

// sameBytes reports whether every version of key holds the same bytes and metadata (a digest's
// signature is in its metadata).
func sameBytes(ctx context.Context, api ReadAPI, bucket, key string, versions []string) (bool, error) {
	var first [sha256.Size]byte
	for i, v := range versions {
		obj, err := getObjectVersion(ctx, api, bucket, key, v)
		if err != nil {
			return false, fmt.Errorf("compare versions: %w", err)
		}
		h := sha256.New()
		for _, k := range slices.Sorted(maps.Keys(obj.meta)) {
			fmt.Fprintf(h, "%q=%q\n", k, obj.meta[k])
		}
		h.Write(obj.body)
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		if i == 0 {
			first = sum
		} else if sum != first {
			return false, nil
		}
	}
	return true, nil
}

// listVersionsByDay lists the versions under the day prefixes (of dayPrefix) from start's day to end's.
func listVersionsByDay(ctx context.Context, api ReadAPI, bucket string, dayPrefix func(time.Time) string, start, end time.Time) (map[string]*keyVersions, error) {
	out := map[string]*keyVersions{}
	for day := start.UTC().Truncate(24 * time.Hour); !day.After(end); day = day.Add(24 * time.Hour) {
		m, err := listVersions(ctx, api, bucket, dayPrefix(day))
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}
