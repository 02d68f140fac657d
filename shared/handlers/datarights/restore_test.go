package datarights_test

import (
	"io"
	"testing"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
)

// TestRestoreOfAnOlderBackupKeepsTheErasure: a backup of every table taken before an erasure, restored
// after it, does not bring the customer's key, personal data or card tokens back: the restore
// re-applies the erasure ledger.
func TestRestoreOfAnOlderBackupKeepsTheErasure(t *testing.T) {
	s := stacktest.New(t)
	id, _ := customerWithHistory(t, s, "Rita Restored", "rita.restored@example.com")
	admin := as(t, s, "admin", "")
	as(t, s, "billing", "").Must(200, "POST", "/v1/invoices/"+last.open+"/void", "", nil)

	r, err := backupwiring.New(s.Env, "test")
	if err != nil {
		t.Fatal(err)
	}
	r.Metrics = io.Discard
	if _, err := r.Backup(t.Context()); err != nil {
		t.Fatalf("backup: %v", err)
	}
	admin.Must(200, "POST", "/v1/customers/"+id+"/erase", "", nil)

	restored := map[string]string{}
	for _, src := range []string{resources.Billing.ID, resources.Vault.ID, resources.Audit.ID} {
		table := s.Names.Prefix + "restored-" + src
		if _, err := r.Restore(t.Context(), backup.RestoreRequest{Source: src, From: backup.Latest, Table: table}); err != nil {
			t.Fatalf("restore %s: %v", src, err)
		}
		restored[src] = table
	}
	assertShredded(t, s, restored[resources.Billing.ID], restored[resources.Vault.ID], id)
	if found := stacktest.StringsAtRest(t, s, "Rita Restored", "rita.restored@example.com"); len(found) > 0 {
		t.Errorf("personal data at rest after the restore:\n%v", found)
	}
}
