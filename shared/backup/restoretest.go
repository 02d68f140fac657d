package backup

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/audit"
	"github.com/vaultbill/vaultbill/shared/resources"
	"github.com/vaultbill/vaultbill/shared/vault"
)

// TestResult is the restore test's outcome for one table.
type TestResult struct {
	Table, BackupID, ScratchTable string
	Items                         int64
	Age, Duration                 time.Duration
	// VaultKey says what the vault key proof found: "decrypted", "no vault items", or "" (not the vault).
	VaultKey string
	Err      error
}

// RestoreTestResult is the outcome of one restore test run.
type RestoreTestResult struct {
	Tables []TestResult
}

// Err joins every table's failure, or is nil.
func (t RestoreTestResult) Err() error {
	var errs []error
	for _, r := range t.Tables {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Table, r.Err))
		}
	}
	return errors.Join(errs...)
}

// ErrStale reports that a table's newest complete backup is older than MaxAge.
var ErrStale = errors.New("newest backup is too old")

// RestoreTest restores the newest backup of every table into a scratch table named
// RestoreTestPrefix+..., verifies it against its manifest, proves the vault key still decrypts a
// restored card data key, deletes the scratch table, and reports the outcome.
func (r *Runner) RestoreTest(ctx context.Context) (RestoreTestResult, error) {
	var res RestoreTestResult
	for _, s := range r.Tables {
		res.Tables = append(res.Tables, r.restoreTestTable(ctx, s))
	}
	err := res.Err()
	r.reportRestoreTest(ctx, res, err)
	return res, err
}

func (r *Runner) restoreTestTable(ctx context.Context, s Source) (tr TestResult) {
	start := time.Now()
	tr = TestResult{Table: s.Def.ID, ScratchTable: scratchName(s.Def.ID)}
	defer func() { tr.Duration = time.Since(start) }()
	id, err := r.Latest(ctx, s.Def.ID)
	if err != nil {
		tr.Err = err
		return tr
	}
	tr.BackupID = id
	if t, err := time.Parse(IDLayout, id); err == nil {
		tr.Age = r.now().Sub(t)
	}
	res, err := r.restore(ctx, RestoreRequest{Source: s.Def.ID, From: id, Table: tr.ScratchTable, scratch: true})
	if err != nil {
		tr.Err = err // restore has already deleted the scratch table
		return tr
	}
	defer r.dropTable(ctx, tr.ScratchTable)
	tr.Items = res.Items
	if s.Def.ID == resources.Vault.ID {
		if tr.VaultKey, err = r.proveVaultKey(ctx, tr.ScratchTable); err != nil {
			tr.Err = err
			return tr
		}
	}
	if maxAge := r.maxAge(); tr.Age > maxAge {
		tr.Err = fmt.Errorf("backup %s is %s old (limit %s): %w", id, tr.Age.Round(time.Minute), maxAge, ErrStale)
	}
	return tr
}

func (r *Runner) maxAge() time.Duration {
	if r.MaxAge > 0 {
		return r.MaxAge
	}
	return DefaultMaxAge
}

func scratchName(table string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return RestoreTestPrefix + table + "-" + hex.EncodeToString(b[:])
}

// proveVaultKey finds a restored vault item and has KMS decrypt its wrapped card data key under the
// vault key: the restored card data is still usable. The data key is discarded at once; no card data
// is decrypted.
func (r *Runner) proveVaultKey(ctx context.Context, table string) (string, error) {
	attr := r.VaultKeyAttribute
	if attr == "" {
		attr = DefaultVaultKeyAttribute
	}
	p := dynamodb.NewScanPaginator(r.DB, &dynamodb.ScanInput{TableName: aws.String(table), Limit: aws.Int32(100)})
	seen := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("scan %s for a vault item: %w", table, err)
		}
		seen += len(page.Items)
		for _, item := range page.Items {
			blob, ok := wrappedKey(item[attr])
			if !ok || !isToken(item) {
				continue
			}
			// The card data key unwraps only under the context the vault sealed it with.
			out, err := r.KMS.Decrypt(ctx, &kms.DecryptInput{
				CiphertextBlob: blob, KeyId: aws.String(r.VaultKeyID), EncryptionContext: vault.CardDataContext,
			})
			if err != nil {
				return "", fmt.Errorf("the vault key %s cannot decrypt a restored card data key: %w", r.VaultKeyID, err)
			}
			clear(out.Plaintext)
			return "decrypted", nil
		}
	}
	if seen == 0 {
		return "no vault items", nil
	}
	return "", fmt.Errorf("none of %d restored vault items has a %q attribute to prove the vault key with (set %s)", seen, attr, "VAULT_WRAPPED_KEY_ATTR")
}

// isToken reports whether a vault item is a token (pk "TOK#..."), whose wrapped key is a card data key.
func isToken(item map[string]dtypes.AttributeValue) bool {
	pk, ok := item[resources.PK].(*dtypes.AttributeValueMemberS)
	return ok && strings.HasPrefix(pk.Value, "TOK#")
}

// wrappedKey reads a wrapped data key stored as binary or as base64 text.
func wrappedKey(av dtypes.AttributeValue) ([]byte, bool) {
	switch v := av.(type) {
	case *dtypes.AttributeValueMemberB:
		return v.Value, len(v.Value) > 0
	case *dtypes.AttributeValueMemberS:
		b, err := base64.StdEncoding.DecodeString(v.Value)
		return b, err == nil && len(b) > 0
	}
	return nil, false
}

func (r *Runner) reportRestoreTest(ctx context.Context, res RestoreTestResult, err error) {
	var resources []audit.Resource
	elems := map[string]string{"outcome": outcome(err)}
	for _, t := range res.Tables {
		ms := []metric{
			{"RestoreTestSuccess", boolMetric(t.Err == nil), "Count"},
			{"RestoreTestItems", float64(t.Items), "Count"},
			{"RestoreTestDuration", t.Duration.Seconds(), "Seconds"},
		}
		if t.BackupID != "" {
			ms = append(ms, metric{"BackupAge", t.Age.Seconds(), "Seconds"})
			resources = append(resources, audit.Resource{Type: "AWS::S3::Object", ID: manifestKey(t.Table, t.BackupID)})
		}
		r.emitMetrics(t.Table, ms...)
		elems[t.Table+"BackupId"] = t.BackupID
		elems[t.Table+"Items"] = strconv.FormatInt(t.Items, 10)
		if t.Err != nil {
			r.log().Error("ALERT: restore test failed", "alert", true, "table", t.Table, "backup_id", t.BackupID,
				"scratch_table", t.ScratchTable, "error", t.Err)
		} else {
			r.log().Info("restore test passed", "table", t.Table, "backup_id", t.BackupID, "items", t.Items,
				"age", t.Age.Round(time.Second).String(), "vault_key", t.VaultKey, "duration_s", seconds(t.Duration))
		}
	}
	_ = r.writeAudit(ctx, r.record(EventRestoreTest, true, nil, elems, err, resources...))
}
