package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	stypes "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// incompleteGrace is how long an export without a manifest may be still running. A Lambda run
// lasts at most 15 minutes; anything older was interrupted and is deleted by the next prune.
const incompleteGrace = 24 * time.Hour

// Prune deletes the exports and native backups older than the retention period. The newest complete
// backup of each table is always kept, however old, so a schedule that stopped working never leaves
// a table with no backup at all. It returns how many backups it deleted.
func (r *Runner) Prune(ctx context.Context) (int, error) {
	now := r.Clock.Now()
	cutoff := now.Add(-time.Duration(orDefault(r.RetentionDays, DefaultRetentionDays)) * 24 * time.Hour)
	var (
		n    int
		errs []error
	)
	for _, s := range r.Tables {
		d, err := r.pruneExports(ctx, s.Def.ID, cutoff, now.Add(-incompleteGrace))
		n += d
		if err != nil {
			errs = append(errs, err)
		}
		d, err = r.pruneNative(ctx, s, cutoff)
		n += d
		if err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

func (r *Runner) pruneExports(ctx context.Context, table string, cutoff, staleIncomplete time.Time) (int, error) {
	l, err := r.list(ctx, table)
	if err != nil {
		return 0, err
	}
	newest := ""
	for _, id := range l.ids {
		if l.complete(id) {
			newest = id
		}
	}
	n := 0
	for _, id := range l.ids {
		t, err := time.Parse(IDLayout, id)
		if err != nil || id == newest {
			continue // not ours, or the one backup always kept
		}
		expired := l.complete(id) && t.Before(cutoff)
		abandoned := !l.complete(id) && t.Before(staleIncomplete)
		if !expired && !abandoned {
			continue
		}
		if err := r.deleteBackup(ctx, table, id, l.objects[id]); err != nil {
			return n, err
		}
		r.log().Info("pruned backup", "table", table, "backup_id", id, "complete", !abandoned)
		n++
	}
	return n, nil
}

// deleteBackup deletes the manifest first, so a prune that stops half-way leaves an incomplete
// backup (ignored, and deleted next time) rather than a manifest whose parts are gone.
func (r *Runner) deleteBackup(ctx context.Context, table, id string, objects map[string]int64) error {
	keys := make([]string, 0, len(objects))
	for name := range objects {
		if name != manifestName {
			keys = append(keys, backupPrefix(table, id)+name)
		}
	}
	sort.Strings(keys)
	if _, ok := objects[manifestName]; ok {
		if err := r.deleteObjects(ctx, []string{manifestKey(table, id)}); err != nil {
			return err
		}
	}
	for len(keys) > 0 {
		batch := keys[:min(1000, len(keys))]
		keys = keys[len(batch):]
		if err := r.deleteObjects(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) deleteObjects(ctx context.Context, keys []string) error {
	ids := make([]stypes.ObjectIdentifier, len(keys))
	for i, k := range keys {
		ids[i] = stypes.ObjectIdentifier{Key: aws.String(k)}
	}
	out, err := r.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(r.Bucket), Delete: &stypes.Delete{Objects: ids, Quiet: aws.Bool(true)},
		ChecksumAlgorithm: stypes.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return fmt.Errorf("delete %d objects from s3://%s: %w", len(keys), r.Bucket, err)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		return fmt.Errorf("delete s3://%s/%s: %s %s (and %d more)", r.Bucket, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
	}
	return nil
}

func (r *Runner) pruneNative(ctx context.Context, s Source, cutoff time.Time) (int, error) {
	var mine []dtypes.BackupSummary
	in := &dynamodb.ListBackupsInput{TableName: aws.String(s.Name), BackupType: dtypes.BackupTypeFilterUser}
	for {
		out, err := r.DB.ListBackups(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("list native backups of %s: %w", s.Name, err)
		}
		for _, b := range out.BackupSummaries {
			if strings.HasPrefix(aws.ToString(b.BackupName), nativeBackupName(s.Def.ID, "")) && b.BackupCreationDateTime != nil {
				mine = append(mine, b)
			}
		}
		if out.LastEvaluatedBackupArn == nil {
			break
		}
		in.ExclusiveStartBackupArn = out.LastEvaluatedBackupArn
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].BackupCreationDateTime.Before(*mine[j].BackupCreationDateTime) })
	n := 0
	for i, b := range mine {
		if i == len(mine)-1 || !b.BackupCreationDateTime.Before(cutoff) {
			continue
		}
		if _, err := r.DB.DeleteBackup(ctx, &dynamodb.DeleteBackupInput{BackupArn: b.BackupArn}); err != nil {
			return n, fmt.Errorf("delete native backup %s: %w", aws.ToString(b.BackupArn), err)
		}
		n++
	}
	return n, nil
}
