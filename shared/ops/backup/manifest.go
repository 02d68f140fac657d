package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	stypes "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Layout of the bucket:
//
//	backups/<table>/<backup id>/part-<segment>-<n>.ndjson.gz.enc   sealed gzip NDJSON parts
//	backups/<table>/<backup id>/manifest.json                     written last
//
// A backup id is its start time (IDLayout), so ids sort in time order. A backup without a manifest
// is incomplete (interrupted, or still running): nothing lists or restores it.

// IDLayout formats backup ids.
const IDLayout = "20060102T150405.000Z"

const (
	rootPrefix   = resources.BackupsPrefix
	manifestName = "manifest.json"
	// FormatVersion is the manifest format.
	FormatVersion = 1
)

// Manifest describes one complete backup of one table.
type Manifest struct {
	Format int    `json:"format"`
	ID     string `json:"backupId"`
	// Table is the logical table id (billing, vault, audit); SourceTable its physical name.
	Table       string `json:"table"`
	SourceTable string `json:"sourceTable"`
	ScanStart   string `json:"scanStart"`
	ScanEnd     string `json:"scanEnd"`
	ItemCount   int64  `json:"itemCount"`
	// Bytes is the size of the uncompressed NDJSON.
	Bytes int64 `json:"bytes"`
	// Checksum is the order-independent sum of every item's SHA-256 (see Checksum).
	Checksum string `json:"itemsChecksum"`
	Cipher   string `json:"cipher"`
	// KeyID is the backup KMS key ARN that wrapped the data key.
	KeyID      string `json:"keyId"`
	WrappedKey []byte `json:"wrappedDataKey"`
	Segments   int    `json:"totalSegments"`
	Parts      []Part `json:"parts"`
	// VaultKeyCanary, in backups of the vault table, is a data key the vault KMS key generated for the
	// restore-canary purpose at backup time: the restore test proves the vault key with it, never with
	// a card data key.
	VaultKeyCanary *Canary `json:"vaultKeyCanary,omitempty"`
	// NativeBackupARN is the DynamoDB on-demand backup taken in the same run ("" if it failed).
	NativeBackupARN string `json:"nativeBackupArn,omitempty"`
	// MAC authenticates everything above under the data key.
	MAC []byte `json:"mac,omitempty"`
}

// Canary is a data key wrapped by a KMS key, kept only to prove later that the key still decrypts.
type Canary struct {
	// KeyID is the ARN of the KMS key that wrapped it.
	KeyID      string `json:"keyId"`
	WrappedKey []byte `json:"wrappedDataKey"`
}

// Part is one sealed object of a backup.
type Part struct {
	Key   string `json:"key"`
	Items int64  `json:"items"`
	// Size is the sealed object's size; SHA256 its hex digest.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Time is the backup's start time, from its id.
func (m *Manifest) Time() time.Time { t, _ := time.Parse(IDLayout, m.ID); return t }

// SealedBytes is the total size of the parts in the bucket.
func (m *Manifest) SealedBytes() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Size
	}
	return n
}

func tablePrefix(table string) string      { return rootPrefix + table + "/" }
func backupPrefix(table, id string) string { return tablePrefix(table) + id + "/" }
func manifestKey(table, id string) string  { return backupPrefix(table, id) + manifestName }

// canonical is the manifest as authenticated: all fields but the MAC.
func (m *Manifest) canonical() ([]byte, error) {
	c := *m
	c.MAC = nil
	return json.Marshal(c)
}

func (r *Runner) putManifest(ctx context.Context, m *Manifest, k *dataKey) error {
	body, err := m.canonical()
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	m.MAC = k.mac(body)
	full, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	key := manifestKey(m.Table, m.ID)
	if err := r.put(ctx, key, full, "application/json"); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// put writes one object with an S3-verified SHA-256 checksum.
func (r *Runner) put(ctx context.Context, key string, body []byte, contentType string) error {
	sum := sha256.Sum256(body)
	_, err := r.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(r.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String(contentType),
		ChecksumAlgorithm: stypes.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(b64(sum[:])),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", r.Bucket, key, err)
	}
	return nil
}

func (r *Runner) get(ctx context.Context, key string) ([]byte, error) {
	out, err := r.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.Bucket), Key: aws.String(key), ChecksumMode: stypes.ChecksumModeEnabled})
	if err != nil {
		var nk *stypes.NoSuchKey
		if errors.As(err, &nk) {
			return nil, fmt.Errorf("s3://%s/%s is missing: %w", r.Bucket, key, ErrIncomplete)
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", r.Bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", r.Bucket, key, err)
	}
	return b, nil
}

// ErrIncomplete reports a backup with a missing part or manifest.
var ErrIncomplete = errors.New("backup is incomplete")

// ErrNoBackup reports that a table has no complete backup (or not the one asked for).
var ErrNoBackup = errors.New("no complete backup")

// readManifest reads a manifest and checks that it is well formed; its MAC is checked once the data
// key is unwrapped (openManifest).
func (r *Runner) readManifest(ctx context.Context, table, id string) (*Manifest, error) {
	b, err := r.get(ctx, manifestKey(table, id))
	if err != nil {
		if errors.Is(err, ErrIncomplete) {
			return nil, fmt.Errorf("backup %s of %s has no manifest: %w", id, table, ErrNoBackup)
		}
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest of backup %s/%s is not valid JSON: %w", table, id, ErrTampered)
	}
	if m.Format != FormatVersion || m.Table != table || m.ID != id {
		return nil, fmt.Errorf("manifest of backup %s/%s names format %d, backup %s/%s: %w", table, id, m.Format, m.Table, m.ID, ErrTampered)
	}
	return &m, nil
}

// openManifest unwraps the manifest's data key and authenticates the manifest with it.
func (r *Runner) openManifest(ctx context.Context, m *Manifest) (*dataKey, error) {
	k, err := openDataKey(ctx, r.KMS, m)
	if err != nil {
		return nil, err
	}
	body, err := m.canonical()
	if err != nil {
		return nil, err
	}
	if err := k.verifyMAC(body, m.MAC); err != nil {
		return nil, fmt.Errorf("manifest of backup %s/%s was altered: %w", m.Table, m.ID, err)
	}
	return k, nil
}

// listing is what the bucket holds for one table: each backup id with its object keys and sizes.
type listing struct {
	ids     []string // sorted, oldest first
	objects map[string]map[string]int64
}

func (l listing) complete(id string) bool {
	_, ok := l.objects[id][manifestName]
	return ok
}

func (r *Runner) list(ctx context.Context, table string) (listing, error) {
	l := listing{objects: map[string]map[string]int64{}}
	prefix := tablePrefix(table)
	p := s3.NewListObjectsV2Paginator(r.S3, &s3.ListObjectsV2Input{Bucket: aws.String(r.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return l, fmt.Errorf("list s3://%s/%s: %w", r.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			rest := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			id, name, ok := strings.Cut(rest, "/")
			if !ok {
				continue
			}
			if l.objects[id] == nil {
				l.objects[id] = map[string]int64{}
				l.ids = append(l.ids, id)
			}
			l.objects[id][name] = aws.ToInt64(o.Size)
		}
	}
	sort.Strings(l.ids)
	return l, nil
}

// Catalog is the complete backups of one table, newest first, and how many incomplete ones the
// bucket also holds (ignored).
type Catalog struct {
	Table      string
	Backups    []*Manifest
	Incomplete int
}

// List reads the catalog of each table (all when tables is empty).
func (r *Runner) List(ctx context.Context, tables ...string) ([]Catalog, error) {
	if len(tables) == 0 {
		for _, s := range r.Tables {
			tables = append(tables, s.Def.ID)
		}
	}
	var out []Catalog
	for _, t := range tables {
		if _, err := r.Source(t); err != nil {
			return nil, err
		}
		l, err := r.list(ctx, t)
		if err != nil {
			return nil, err
		}
		c := Catalog{Table: t}
		for i := len(l.ids) - 1; i >= 0; i-- {
			id := l.ids[i]
			if !l.complete(id) {
				c.Incomplete++
				continue
			}
			m, err := r.readManifest(ctx, t, id)
			if err != nil {
				return nil, err
			}
			c.Backups = append(c.Backups, m)
		}
		out = append(out, c)
	}
	return out, nil
}

// Latest returns the id of the newest complete backup of table.
func (r *Runner) Latest(ctx context.Context, table string) (string, error) {
	l, err := r.list(ctx, table)
	if err != nil {
		return "", err
	}
	for i := len(l.ids) - 1; i >= 0; i-- {
		if l.complete(l.ids[i]) {
			return l.ids[i], nil
		}
	}
	return "", fmt.Errorf("table %s: %w in s3://%s/%s", table, ErrNoBackup, r.Bucket, tablePrefix(table))
}

func hexSHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
