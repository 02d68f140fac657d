package backup_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

// TestRoundTrip is the disaster drill: back up thousands of items of every kind, lose every table,
// restore each from its backup, and find every item exactly as it was.
func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.s.Env.Config
	counts := e.seed(t, 600) // 2 600 items: 1 600 billing, 300 vault, 600 audit
	tables := map[string]string{"billing": c.BillingTable, "vault": c.VaultTable, "audit": c.AuditTable}
	before := map[string]map[string]string{}
	for id, name := range tables {
		before[id] = e.snapshot(t, name)
		if len(before[id]) != counts[id] {
			t.Fatalf("%s holds %d items after seeding %d", id, len(before[id]), counts[id])
		}
	}

	e.calls.Reset()
	res, err := e.r.Backup(ctx)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	// A backup costs one KMS call per table, whatever the number of items and parts, and the vault
	// key canary.
	if got := e.calls.Service("KMS"); got != len(tables)+1 {
		t.Errorf("backup made %d KMS calls, want %d: one data key per table and the vault key canary", got, len(tables)+1)
	}
	if got := e.calls.Get("DynamoDB CreateBackup"); got != len(tables) {
		t.Errorf("%d native backups, want %d", got, len(tables))
	}
	for _, tr := range res.Tables {
		if tr.Items != int64(counts[tr.Table]) || tr.NativeBackupARN == "" || tr.Parts == 0 {
			t.Errorf("backup of %s: %+v; want %d items, a native backup and parts", tr.Table, tr, counts[tr.Table])
		}
	}
	cats, err := e.r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cat := range cats {
		if len(cat.Backups) != 1 || cat.Backups[0].ID != res.ID || cat.Backups[0].ItemCount != int64(counts[cat.Table]) || cat.Incomplete != 0 {
			t.Errorf("catalog of %s: %s", cat.Table, jsonString(cat))
		}
	}

	// The run reported itself: one audit record and metrics per table.
	recs := e.auditEvents(t, backup.EventBackup)
	if len(recs) != 1 || recs[0].EventType != "AwsServiceEvent" || recs[0].ErrorCode != "" || recs[0].ResponseElements["backupId"] != res.ID {
		t.Errorf("backup audit records: %s", jsonString(recs))
	}
	if diff := cmp.Diff(map[string]float64{"billing": 1, "vault": 1, "audit": 1}, e.metricValues(t)["BackupSuccess"]); diff != "" {
		t.Errorf("BackupSuccess metrics (-want +got):\n%s", diff)
	}

	// Lose everything, then restore each table under its own name. The audit table comes back first,
	// so the restores of the others can be audited.
	for _, name := range tables {
		e.deleteTable(t, name)
	}
	for _, id := range []string{"audit", "billing", "vault"} {
		e.calls.Reset()
		rr, err := e.r.Restore(ctx, backup.RestoreRequest{Source: id, From: backup.Latest, Table: tables[id]})
		if err != nil {
			t.Fatalf("restore %s: %v", id, err)
		}
		if rr.BackupID != res.ID || rr.Items != int64(counts[id]) {
			t.Errorf("restore %s: %+v", id, rr)
		}
		if got := e.calls.Service("KMS"); got != 1 {
			t.Errorf("restore of %s made %d KMS calls, want 1 (unwrap the data key)", id, got)
		}
		after := e.snapshot(t, tables[id])
		if id == "audit" { // the restore's own record is the one thing that may be new
			for k, line := range after {
				if _, old := before[id][k]; !old && strings.Contains(line, `\"eventName\":\"RestoreTable\"`) {
					delete(after, k)
				}
			}
		}
		if diff := cmp.Diff(before[id], after); diff != "" {
			t.Errorf("restored %s differs (-before +after):\n%.2000s", id, diff)
		}
	}

	// The restored vault still works: a restored token's wrapped data key decrypts under the vault
	// key, and that key opens the token's card data. (Paying an invoice with it is the payments
	// function's test to make.)
	out, err := e.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.VaultTable), Key: map[string]types.AttributeValue{
		"pk": s("TOK#tok_00000000000000000000000000000001"), "sk": s("TOKEN")}})
	if err != nil || out.Item == nil {
		t.Fatalf("restored token: %v", err)
	}
	dk, err := e.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.Item["wrappedKey"].(*types.AttributeValueMemberB).Value, KeyId: aws.String(c.VaultKeyID), EncryptionContext: vault.CardDataContext})
	if err != nil {
		t.Fatalf("vault key cannot decrypt a restored data key: %v", err)
	}
	block, _ := aes.NewCipher(dk.Plaintext)
	gcm, _ := cipher.NewGCM(block)
	ct := out.Item["ciphertext"].(*types.AttributeValueMemberB).Value
	if pt, err := gcm.Open(nil, ct[:12], ct[12:], []byte("tok_00000000000000000000000000000001")); err != nil || !strings.Contains(string(pt), cards[1].number) {
		t.Errorf("restored card data does not open: %v", err)
	}

	// The restore test passes on the same backups, proves the vault key, and leaves no scratch table.
	e.calls.Reset()
	tr, err := e.r.RestoreTest(ctx)
	if err != nil {
		t.Fatalf("restore test: %v", err)
	}
	for _, r := range tr.Tables {
		if r.BackupID != res.ID || r.Items != int64(counts[r.Table]) || !strings.HasPrefix(r.ScratchTable, backup.RestoreTestPrefix) {
			t.Errorf("restore test of %s: %+v", r.Table, r)
		}
		if r.Table == "vault" && r.VaultKey != "decrypted" {
			t.Errorf("vault key proof: %q", r.VaultKey)
		}
	}
	if got := e.calls.Service("KMS"); got != len(tables)+1 {
		t.Errorf("restore test made %d KMS calls, want %d (one per table, the vault key canary)", got, len(tables)+1)
	}
	if left := e.scratchTables(t); len(left) != 0 {
		t.Errorf("scratch tables left behind: %v", left)
	}
	if diff := cmp.Diff(map[string]float64{"billing": 1, "vault": 1, "audit": 1}, e.metricValues(t)["RestoreTestSuccess"]); diff != "" {
		t.Errorf("RestoreTestSuccess metrics (-want +got):\n%s", diff)
	}
	if recs := e.auditEvents(t, backup.EventRestoreTest); len(recs) != 1 || recs[0].ErrorCode != "" || !recs[0].ReadOnly {
		t.Errorf("restore test audit records: %s", jsonString(recs))
	}
}

// TestNoCardDataInBackups opens every part of every backup and finds no card number or cvc, in any
// encoding, in the sealed objects or in the decrypted NDJSON; vault items keep their own ciphertext.
func TestNoCardDataInBackups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.seed(t, 200)
	res, err := e.r.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var vaultLines int
	for _, tr := range res.Tables {
		m := e.manifest(t, tr.Table, res.ID)
		sealed, plain := e.openParts(t, m)
		if tr.Table == "vault" {
			vaultLines = strings.Count(string(plain), `"ciphertext":{"B":`)
		}
		manifest := e.getObject(t, "backups/"+tr.Table+"/"+res.ID+"/manifest.json")
		for _, c := range cards {
			for _, secret := range []string{c.number, b64([]byte(c.number)), `"cvc":"` + c.cvc + `"`, b64([]byte(c.cvc))} {
				for where, b := range map[string][]byte{"sealed parts": sealed, "decrypted parts": plain, "manifest": manifest} {
					if strings.Contains(string(b), secret) {
						t.Errorf("%s of %s hold card data %.6q...", where, tr.Table, secret)
					}
				}
			}
		}
	}
	if vaultLines != 100 {
		t.Errorf("vault backup holds %d sealed card records, want 100", vaultLines)
	}
	for _, c := range cards {
		if strings.Contains(stacktest.Logs.String(), c.number) {
			t.Error("logs hold a card number")
		}
	}
}

// TestRestoreNeverOverwrites refuses to restore into an existing table and leaves that table alone.
func TestRestoreNeverOverwrites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.seed(t, 20)
	if _, err := e.r.Backup(ctx); err != nil {
		t.Fatal(err)
	}
	billing := e.s.Env.Config.BillingTable
	before := e.snapshot(t, billing)
	e.calls.Reset()
	_, err := e.r.Restore(ctx, backup.RestoreRequest{Source: "billing", From: backup.Latest, Table: billing})
	if !errors.Is(err, backup.ErrTableExists) || !strings.Contains(err.Error(), billing) {
		t.Fatalf("restore over %s: %v, want ErrTableExists naming it", billing, err)
	}
	if n := e.calls.Get("DynamoDB BatchWriteItem") + e.calls.Get("DynamoDB DeleteTable"); n != 0 {
		t.Errorf("refused restore made %d writes or deletes", n)
	}
	if diff := cmp.Diff(before, e.snapshot(t, billing)); diff != "" {
		t.Errorf("existing table changed:\n%s", diff)
	}
}
