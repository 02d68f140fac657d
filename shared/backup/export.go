package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/resources"
)

// TableResult is the outcome of one table's backup.
type TableResult struct {
	Table           string
	BackupID        string
	Items           int64
	Bytes           int64 // uncompressed NDJSON
	SealedBytes     int64
	Parts           int
	NativeBackupARN string
	Duration        time.Duration
	// Err is why the export failed (then there is no manifest); NativeErr why the native backup did.
	Err, NativeErr error
}

// OK reports whether both the export and the native backup succeeded.
func (t TableResult) OK() bool { return t.Err == nil && t.NativeErr == nil }

// BackupResult is the outcome of one backup run.
type BackupResult struct {
	ID      string
	Started time.Time
	Tables  []TableResult
	// Pruned counts the expired exports and native backups deleted.
	Pruned   int
	PruneErr error
}

// Err joins every failure of the run, or is nil.
func (b BackupResult) Err() error {
	var errs []error
	for _, t := range b.Tables {
		if t.Err != nil {
			errs = append(errs, fmt.Errorf("export %s: %w", t.Table, t.Err))
		}
		if t.NativeErr != nil {
			errs = append(errs, fmt.Errorf("native backup %s: %w", t.Table, t.NativeErr))
		}
	}
	if b.PruneErr != nil {
		errs = append(errs, fmt.Errorf("prune: %w", b.PruneErr))
	}
	return errors.Join(errs...)
}

// Backup backs up every table: a native on-demand backup and an encrypted export each, then prunes
// what retention lets go, then reports the run (audit record, metrics, log). One table's failure does
// not stop the others; the returned error names every failure.
func (r *Runner) Backup(ctx context.Context) (BackupResult, error) {
	started := r.now()
	res := BackupResult{ID: started.Format(IDLayout), Started: started}
	for _, s := range r.Tables {
		res.Tables = append(res.Tables, r.backupTable(ctx, s, res.ID))
	}
	if res.Err() == nil { // prune only after a fully good run, so a failing job never eats old backups
		res.Pruned, res.PruneErr = r.Prune(ctx)
	}
	err := res.Err()
	r.reportBackup(ctx, res, err)
	return res, err
}

func (r *Runner) backupTable(ctx context.Context, s Source, id string) TableResult {
	start := time.Now()
	res := TableResult{Table: s.Def.ID, BackupID: id}
	res.NativeBackupARN, res.NativeErr = r.nativeBackup(ctx, s, id)
	m, err := r.export(ctx, s, id, res.NativeBackupARN)
	res.Duration = time.Since(start)
	if err != nil {
		res.Err = err
		return res
	}
	res.Items, res.Bytes, res.SealedBytes, res.Parts = m.ItemCount, m.Bytes, m.SealedBytes(), len(m.Parts)
	return res
}

// nativeBackup asks DynamoDB for an on-demand backup, the point-in-time copy AWS restores natively.
func (r *Runner) nativeBackup(ctx context.Context, s Source, id string) (string, error) {
	out, err := r.DB.CreateBackup(ctx, &dynamodb.CreateBackupInput{
		TableName: aws.String(s.Name), BackupName: aws.String(nativeBackupName(s.Def.ID, id)),
	})
	if err != nil {
		return "", fmt.Errorf("create backup of %s: %w", s.Name, err)
	}
	if out.BackupDetails == nil {
		return "", fmt.Errorf("create backup of %s: no backup details returned", s.Name)
	}
	return aws.ToString(out.BackupDetails.BackupArn), nil
}

// nativeBackupName names native backups so pruning recognises its own ("vaultbill-billing-<id>").
func nativeBackupName(table, id string) string { return "vaultbill-" + table + "-" + id }

// export writes the table's sealed parts, then its manifest.
func (r *Runner) export(ctx context.Context, s Source, id, nativeARN string) (*Manifest, error) {
	meter := &Meter{Table: s.Def.ID, Phase: "backup"}
	if d, err := r.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.Name)}); err == nil && d.Table != nil {
		meter.TotalItems = aws.ToInt64(d.Table.ItemCount)
	}
	r.observe(meter, false)
	defer r.observe(meter, true)

	key, err := newDataKey(ctx, r.KMS, r.KeyID, s.Def.ID, id)
	if err != nil {
		return nil, err
	}
	segments := orDefault(r.Segments, DefaultSegments)
	m := &Manifest{
		Format: FormatVersion, ID: id, Table: s.Def.ID, SourceTable: s.Name,
		ScanStart: r.now().Format(time.RFC3339Nano), Cipher: Cipher,
		KeyID: key.keyID, WrappedKey: key.wrapped, Segments: segments, NativeBackupARN: nativeARN,
	}
	if s.Def.ID == resources.Vault.ID {
		if m.VaultKeyCanary, err = newCanary(ctx, r.KMS, r.VaultKeyID, s.Def.ID, id); err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		errs  []error
		sum   Checksum
		wg    sync.WaitGroup
		parts []Part
	)
	for seg := 0; seg < segments; seg++ {
		wg.Go(func() {
			w := &partWriter{r: r, key: key, meter: meter, prefix: backupPrefix(s.Def.ID, id), segment: seg,
				maxItems: orDefault(r.PartItems, DefaultPartItems), maxBytes: orDefault(r.PartBytes, DefaultPartBytes)}
			err := r.scan(ctx, s.Name, seg, segments, w.add)
			if err == nil {
				err = w.flush(ctx)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				cancel()
				return
			}
			parts = append(parts, w.parts...)
			sum.Merge(w.sum)
			m.ItemCount += w.items
			m.Bytes += w.bytes
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err // no manifest: the parts written so far are an incomplete backup, never listed
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Key < parts[j].Key })
	m.Parts, m.Checksum = parts, sum.String()
	m.ScanEnd = r.now().Format(time.RFC3339Nano)
	if err := r.putManifest(ctx, m, key); err != nil {
		return nil, err
	}
	r.log().Info("table backed up", "table", s.Def.ID, "backup_id", id, "items", m.ItemCount,
		"parts", len(m.Parts), "bytes", m.Bytes, "sealed_bytes", m.SealedBytes())
	return m, nil
}

// scan reads one segment of a parallel scan, strongly consistent, handing each item to add.
func (r *Runner) scan(ctx context.Context, table string, segment, total int, add func(context.Context, []byte) error) error {
	p := dynamodb.NewScanPaginator(r.DB, &dynamodb.ScanInput{
		TableName: aws.String(table), Segment: aws.Int32(int32(segment)), TotalSegments: aws.Int32(int32(total)),
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan %s segment %d/%d: %w", table, segment, total, err)
		}
		for _, item := range page.Items {
			line, err := EncodeItem(item)
			if err != nil {
				return fmt.Errorf("scan %s: %w", table, err)
			}
			if err := add(ctx, line); err != nil {
				return err
			}
		}
	}
	return nil
}

// partWriter gathers one segment's lines into gzip parts and uploads each sealed part when full.
type partWriter struct {
	r                  *Runner
	key                *dataKey
	meter              *Meter
	prefix             string
	segment            int
	maxItems, maxBytes int

	buf       bytes.Buffer
	gz        *gzip.Writer
	partItems int
	partBytes int
	n         int
	items     int64
	bytes     int64
	sum       Checksum
	parts     []Part
}

func (w *partWriter) add(ctx context.Context, line []byte) error {
	if w.gz == nil {
		w.buf.Reset()
		w.gz = gzip.NewWriter(&w.buf)
	}
	w.gz.Write(line) //nolint:errcheck // writes to a bytes.Buffer cannot fail
	w.gz.Write([]byte{'\n'})
	w.sum.Add(line)
	w.partItems++
	w.partBytes += len(line) + 1
	w.items++
	w.bytes += int64(len(line) + 1)
	w.meter.Items.Add(1)
	w.meter.Bytes.Add(int64(len(line) + 1))
	if w.partItems >= w.maxItems || w.partBytes >= w.maxBytes {
		return w.flush(ctx)
	}
	return nil
}

func (w *partWriter) flush(ctx context.Context) error {
	if w.gz == nil || w.partItems == 0 {
		return nil
	}
	if err := w.gz.Close(); err != nil {
		return fmt.Errorf("compress part: %w", err)
	}
	key := fmt.Sprintf("%spart-%d-%05d.ndjson.gz.enc", w.prefix, w.segment, w.n)
	sealed := w.key.seal(key, w.buf.Bytes())
	if err := w.r.put(ctx, key, sealed, "application/octet-stream"); err != nil {
		return fmt.Errorf("upload part: %w", err)
	}
	w.parts = append(w.parts, Part{Key: key, Items: int64(w.partItems), Size: int64(len(sealed)), SHA256: hexSHA256(sealed)})
	w.meter.Parts.Add(1)
	w.n++
	w.partItems, w.partBytes, w.gz = 0, 0, nil
	return nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
