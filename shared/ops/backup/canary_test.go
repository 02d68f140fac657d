package backup_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/google/go-cmp/cmp"

	cardvault "github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

// purposeLog records the vaultbill:purpose of every KMS Decrypt a runner makes.
type purposeLog struct {
	backup.KMSAPI
	mu       sync.Mutex
	purposes []string
}

func (p *purposeLog) Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	p.mu.Lock()
	p.purposes = append(p.purposes, in.EncryptionContext["vaultbill:purpose"])
	p.mu.Unlock()
	return p.KMSAPI.Decrypt(ctx, in, opts...)
}

// TestRestoreTestNeverUnwrapsCardDataKeys: the restore test proves the vault key with the backup's
// canary data key (purpose restore-canary) and never asks KMS to unwrap a card data key (purpose
// card-data), so its role needs no such permission and nothing but payments can read a card number.
func TestRestoreTestNeverUnwrapsCardDataKeys(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 20)
	ctx := context.Background()
	if _, err := e.r.Backup(ctx); err != nil {
		t.Fatalf("backup: %v", err)
	}
	log := &purposeLog{KMSAPI: e.r.KMS}
	e.r.KMS = log
	res, err := e.r.RestoreTest(ctx)
	if err != nil {
		t.Fatalf("restore test: %v", err)
	}
	for _, tr := range res.Tables {
		if tr.Table == "vault" && tr.VaultKey != "decrypted" {
			t.Errorf("vault key proof: %q, want decrypted", tr.VaultKey)
		}
	}
	canaries := 0
	for _, p := range log.purposes {
		switch p {
		case cardvault.CardDataContext["vaultbill:purpose"]:
			t.Errorf("the restore test unwrapped a card data key (purpose %s)", p)
		case backup.CanaryPurpose:
			canaries++
		}
	}
	if canaries != 1 {
		t.Errorf("the restore test decrypted %d canaries, want 1 (purposes %v)", canaries, log.purposes)
	}
}

// refuseCanary is KMS refusing to decrypt under the vault key (disabled or pending deletion; the
// emulator does not model key states).
type refuseCanary struct{ backup.KMSAPI }

func (r refuseCanary) Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if in.EncryptionContext["vaultbill:purpose"] == backup.CanaryPurpose {
		return nil, &ktypes.DisabledException{Message: aws.String("key is disabled")}
	}
	return r.KMSAPI.Decrypt(ctx, in, opts...)
}

// TestRestoreTestFailsWhenTheVaultKeyCannotDecrypt: the canary is a real proof: when KMS will not
// decrypt it, the vault table's restore test fails (and alerts) while the other tables pass.
func TestRestoreTestFailsWhenTheVaultKeyCannotDecrypt(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 5)
	ctx := context.Background()
	if _, err := e.r.Backup(ctx); err != nil {
		t.Fatalf("backup: %v", err)
	}
	e.r.KMS = refuseCanary{e.r.KMS}
	res, err := e.r.RestoreTest(ctx)
	if err == nil || !strings.Contains(err.Error(), "canary") {
		t.Fatalf("restore test with the vault key refusing: %v, want a failure naming the canary", err)
	}
	for _, tr := range res.Tables {
		if failed := tr.Err != nil; failed != (tr.Table == "vault") {
			t.Errorf("%s: %v (only the vault table must fail)", tr.Table, tr.Err)
		}
		if tr.Table == "vault" && tr.VaultKey != "" {
			t.Errorf("vault key proof %q although KMS refused", tr.VaultKey)
		}
	}
	if left := e.scratchTables(t); len(left) != 0 {
		t.Errorf("scratch tables left behind: %v", left)
	}
	if diff := cmp.Diff(map[string]float64{"billing": 1, "vault": 0, "audit": 1}, e.metricValues(t)["RestoreTestSuccess"]); diff != "" {
		t.Errorf("RestoreTestSuccess metrics (-want +got):\n%s", diff)
	}
}
