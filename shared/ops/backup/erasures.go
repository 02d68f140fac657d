package backup

import (
	"context"
	"fmt"

	"github.com/vaultbill/vaultbill/shared/adapters/erasures"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// reapplyErasures is the last step of a restore: a backup taken before an erasure must not bring the
// erased customer back, so every erasure in the ledger (erasures/ in the backup bucket, which no
// restore rolls back) is applied again to the restored table: its customer key items and personal
// data (billing) or its card tokens (vault). Scratch restores of the restore test are verified and
// dropped, never served, and skip it. A failure fails the restore: a table that would resurrect
// personal data must not be put into service.
func (r *Runner) reapplyErasures(ctx context.Context, req RestoreRequest) (int, error) {
	if req.scratch {
		return 0, nil
	}
	var tables erasures.Tables
	switch req.Source {
	case resources.Billing.ID:
		tables.Billing = req.Table
	case resources.Vault.ID:
		tables.Vault = req.Table
	default:
		return 0, nil
	}
	db, ok := r.DB.(erasures.DB)
	if !ok {
		return 0, fmt.Errorf("re-apply erasures to %s: the DynamoDB client cannot delete items", req.Table)
	}
	entries, err := (&erasures.Ledger{S3: r.S3, Bucket: r.Bucket}).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("re-apply erasures to %s: %w", req.Table, err)
	}
	if err := erasures.Reapply(ctx, db, tables, entries, nil); err != nil {
		return 0, fmt.Errorf("re-apply erasures to %s: %w", req.Table, err)
	}
	return len(entries), nil
}
