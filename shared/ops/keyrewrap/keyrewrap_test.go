package keyrewrap_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/keyrewrap"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
	"github.com/vaultbill/vaultbill/shared/wiring/functions"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

type caller = stacktest.Client

func as(t testing.TB, s *devstack.Stack, role string) *caller {
	t.Helper()
	return &caller{T: t, S: s, Token: stacktest.Token(t, s, devstack.TokenSpec{Role: role, Subject: role + "-rewrap"})}
}

type obj struct {
	ID string `json:"id"`
}

func customer(c *caller, name, email string) string {
	var cus obj
	c.Must(201, "POST", "/v1/customers", fmt.Sprintf(`{"name":%q,"email":%q}`, name, email), &cus)
	return cus.ID
}

func openInvoice(c *caller, customerID string) string {
	var inv obj
	c.Must(201, "POST", "/v1/invoices", fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Plan","quantity":1,"unit_amount":5000}]}`, customerID), &inv)
	c.Must(200, "POST", "/v1/invoices/"+inv.ID+"/finalize", "", nil)
	return inv.ID
}

func tokenBody(customerID, number, name string) string {
	return fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":12,"exp_year":2040,"name":%q}}`, customerID, number, name)
}

// keyARN resolves a key id or alias on the emulator.
func keyARN(t testing.TB, k *kms.Client, id string) string {
	t.Helper()
	out, err := k.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

func newKey(t testing.TB, k *kms.Client, purpose string) string {
	t.Helper()
	out, err := k.CreateKey(t.Context(), &kms.CreateKeyInput{
		Description: aws.String("rewrap target: " + purpose), KeyUsage: ktypes.KeyUsageTypeEncryptDecrypt, KeySpec: ktypes.KeySpecSymmetricDefault,
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// rewrapper is the rewrapper the CLI builds, over the stack's tables and backups.
func rewrapper(t *testing.T, s *devstack.Stack, cfg aws.Config) *keyrewrap.Rewrapper {
	t.Helper()
	c := s.Env.Config
	env := s.Env
	env.AWS = cfg
	r, err := backupwiring.New(env, "test")
	if err != nil {
		t.Fatal(err)
	}
	r.Metrics = io.Discard
	return &keyrewrap.Rewrapper{
		KMS: kms.NewFromConfig(cfg), DB: dynamodb.NewFromConfig(cfg), BillingTable: c.BillingTable, VaultTable: c.VaultTable,
		Backups: r,
		Audit:   &keyrewrap.Auditor{Store: &audit.Store{DB: dynamodb.NewFromConfig(cfg), Table: c.AuditTable}, Principal: "cli:test"},
		Current: map[keyrewrap.Key]string{keyrewrap.Data: c.DataKeyID, keyrewrap.Vault: c.VaultKeyID, keyrewrap.Backup: c.BackupKeyID},
	}
}

// coldFunctions replaces every function of the stack with a cold instance (empty key caches) whose
// KMS calls fail on a disabled key, as in AWS.
func coldFunctions(t *testing.T, s *devstack.Stack) wiring.Env {
	t.Helper()
	env := s.Env
	env.AWS = stacktest.RefuseDisabledKeys(s.Env.AWS)
	for _, fn := range routes.Functions() {
		register, ok := functions.APIs[fn]
		if !ok {
			continue
		}
		svc, err := wiring.API(env, fn, register)
		if err != nil {
			t.Fatal(err)
		}
		s.Gateway.Functions[fn] = svc.Serve
	}
	return env
}

// TestRewrapThenDisableTheOldKeys: after the vault, data and backup keys' data keys are rewrapped
// under new keys, the aliases the functions use point at the new keys and the old keys are
// disabled, everything still works: reading customers (their personal data decrypts), tokenizing,
// paying with a token made before the rewrap and with a new one, and restoring a backup taken before
// it. Without the rewrap (TestDisablingTheOldKeysWithoutRewrapBreaksEverything) the same steps fail.
func TestRewrapThenDisableTheOldKeys(t *testing.T) { disableOldKeys(t, true) }

// TestDisablingTheOldKeysWithoutRewrapBreaksEverything is the same scenario without the rewrap: it
// shows that disabling the old keys is what the rewrap protects against (every step fails closed).
func TestDisablingTheOldKeysWithoutRewrapBreaksEverything(t *testing.T) { disableOldKeys(t, false) }

func disableOldKeys(t *testing.T, rewrap bool) {
	s := stacktest.New(t)
	ctx := t.Context()
	bill, pay := as(t, s, "billing"), as(t, s, "payments")
	const name, email = "Rewrap Rosalind", "rosalind.rewrap@example.com"
	alice := customer(bill, name, email)
	bob := customer(bill, "Bob Rewrap", "bob.rewrap@example.com")
	var tok obj
	pay.Must(201, "POST", "/v1/tokens", tokenBody(alice, "4242424242424242", name), &tok)
	pay.Must(200, "POST", "/v1/invoices/"+openInvoice(bill, alice)+"/pay", fmt.Sprintf(`{"token":%q}`, tok.ID), nil)
	laterForAlice, laterForBob := openInvoice(bill, alice), openInvoice(bill, bob)

	r, err := backupwiring.New(s.Env, "test")
	if err != nil {
		t.Fatal(err)
	}
	r.Metrics = io.Discard
	taken, err := r.Backup(ctx)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}

	k := kms.NewFromConfig(s.Env.AWS)
	c := s.Env.Config
	aliases := map[keyrewrap.Key]string{keyrewrap.Vault: c.VaultKeyID, keyrewrap.Data: c.DataKeyID, keyrewrap.Backup: c.BackupKeyID}
	old, target := map[keyrewrap.Key]string{}, map[keyrewrap.Key]string{}
	for _, key := range keyrewrap.Keys {
		old[key], target[key] = keyARN(t, k, aliases[key]), newKey(t, k, string(key))
	}
	if rewrap {
		cfg, calls := stacktest.CountCalls(s.Env.AWS)
		rw := rewrapper(t, s, cfg)
		for _, key := range []keyrewrap.Key{keyrewrap.Backup, keyrewrap.Vault, keyrewrap.Data} {
			res, err := rw.Run(ctx, key, target[key])
			if err != nil {
				t.Fatalf("rewrap %s: %v", key, err)
			}
			t.Logf("rewrap %s: %+v", key, res.Counts)
		}
		recs := auditRecords(t, s, keyrewrap.RewrapEvent)
		if len(recs) != 3 {
			t.Errorf("%d audit records of rewraps, want 3 (one per run)", len(recs))
		}
		for _, rec := range recs {
			// A key id that reads as a card number (about one in 300 UUIDs) is recorded masked.
			if key := keyrewrap.Key(rec.RequestParameters["key"]); rec.ResponseElements["targetKeyId"] != logging.Redact(target[key]) || rec.ErrorCode != "" {
				t.Errorf("audit record of the %s rewrap: %+v", key, rec)
			}
		}
		// The table items' data keys moved with ReEncrypt only; the one Decrypt per manifest
		// authenticates it before it is rewritten (3 tables: backup key; the vault's canary: vault key).
		got := calls.TakeService("KMS")
		if got["Decrypt"] != 4 || got["GenerateDataKey"] != 0 || got["ReEncrypt"] == 0 {
			t.Errorf("KMS calls of the rewrap: %v; want ReEncrypt, and 4 Decrypt (one per manifest rewritten)", got)
		}
	}
	// The configuration change every rewrap needs (readers name their key in Decrypt): the aliases
	// the functions are configured with now name the new keys. Then the old keys are disabled.
	for _, key := range keyrewrap.Keys {
		if _, err := k.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(aliases[key]), TargetKeyId: aws.String(target[key])}); err != nil {
			t.Fatal(err)
		}
		// moto finds a key to disable by its id, not its ARN.
		if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(old[key][strings.LastIndex(old[key], "/")+1:])}); err != nil {
			t.Fatal(err)
		}
	}
	env := coldFunctions(t, s)

	check := func(what string, want, got int, body string) {
		t.Helper()
		if !rewrap {
			want = 503 // KMS refuses the disabled key; the API fails closed
		}
		if got != want {
			t.Errorf("%s: %d, want %d: %s", what, got, want, body)
		}
	}
	status, body := bill.Do("GET", "/v1/customers/"+alice, "")
	check("read customer", 200, status, body)
	if rewrap {
		var got billing.Customer
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.Name != name || got.Email != email {
			t.Errorf("customer after the rewrap: %s", body)
		}
	}
	status, body = pay.Do("POST", "/v1/invoices/"+laterForAlice+"/pay", fmt.Sprintf(`{"token":%q}`, tok.ID))
	check("pay with a token made before", 200, status, body)
	status, body = pay.Do("POST", "/v1/tokens", tokenBody(bob, "5555555555554444", "Bob Rewrap"))
	check("tokenize", 201, status, body)
	if status == 201 {
		var bobs obj
		_ = json.Unmarshal([]byte(body), &bobs)
		status, body = pay.Do("POST", "/v1/invoices/"+laterForBob+"/pay", fmt.Sprintf(`{"token":%q}`, bobs.ID))
		check("pay with a new token", 200, status, body)
	}

	restorer, err := backupwiring.New(env, "test")
	if err != nil {
		t.Fatal(err)
	}
	restorer.Metrics = io.Discard
	for _, src := range []string{resources.Billing.ID, resources.Vault.ID} {
		res, err := restorer.Restore(ctx, backup.RestoreRequest{Source: src, From: taken.ID, Table: s.Names.Prefix + "restored-" + src})
		switch {
		case rewrap && err != nil:
			t.Errorf("restore %s of the backup taken before the rewrap: %v", src, err)
		case rewrap && res.Items == 0:
			t.Errorf("restore %s: no items", src)
		case !rewrap && err == nil:
			t.Errorf("restore %s succeeded with its backup key disabled", src)
		}
	}
}

// TestRewrapResumesAfterACrash: a run stopped after a few items, run again, finishes: every token,
// customer key and manifest is rewritten exactly once, and a third run finds nothing to do.
func TestRewrapResumesAfterACrash(t *testing.T) {
	s := stacktest.New(t)
	ctx := t.Context()
	bill, pay := as(t, s, "billing"), as(t, s, "payments")
	cards := []string{"4242424242424242", "5555555555554444", "4000056655665556", "378282246310005", "6011111111111117"}
	for i, card := range cards {
		id := customer(bill, fmt.Sprintf("Crash Customer %d", i), fmt.Sprintf("crash%d@example.com", i))
		pay.Must(201, "POST", "/v1/tokens", tokenBody(id, card, "Crash"), nil)
	}
	k := kms.NewFromConfig(s.Env.AWS)
	for _, key := range []keyrewrap.Key{keyrewrap.Vault, keyrewrap.Data} {
		target := newKey(t, k, string(key))
		cfg, calls := stacktest.CountCalls(s.Env.AWS)
		rw := rewrapper(t, s, cfg)
		rw.Backups = nil
		rw.Workers = 1 // the crash comes after exactly stopAfter items
		const stopAfter = 2
		crash, stop := context.WithCancel(ctx)
		n := 0
		rw.Progress = func(string, bool) {
			if n++; n == stopAfter {
				stop()
			}
		}
		first, err := rw.Run(crash, key, target)
		stop()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: interrupted run: %v, want context.Canceled", key, err)
		}
		rw.Progress = nil
		second, err := rw.Run(ctx, key, target)
		if err != nil {
			t.Fatalf("%s: resumed run: %v", key, err)
		}
		want := len(cards)
		if key == keyrewrap.Vault {
			want++ // the fingerprint key
		}
		if r1, r2 := rewrapped(first), rewrapped(second); r1 != stopAfter || r1+r2 != want || skipped(second) != stopAfter {
			t.Errorf("%s: first run rewrapped %d, second %d (skipped %d); want %d, then the other %d", key, r1, r2, skipped(second), stopAfter, want-stopAfter)
		}
		if got := calls.Get("DynamoDB UpdateItem"); got != want {
			t.Errorf("%s: %d item writes over both runs, want %d (each item once)", key, got, want)
		}
		calls.Reset()
		third, err := rw.Run(ctx, key, target)
		if err != nil || rewrapped(third) != 0 || calls.Get("KMS ReEncrypt") != 0 || calls.Get("DynamoDB UpdateItem") != 0 {
			t.Errorf("%s: third run: %+v %v, KMS calls %v; want nothing to do", key, third.Counts, err, calls.Take())
		}
		assertAllUnder(t, s, key, target)
	}
}

func rewrapped(r keyrewrap.Result) (n int) {
	for _, c := range r.Counts {
		n += c.Rewrapped
	}
	return n
}

func skipped(r keyrewrap.Result) (n int) {
	for _, c := range r.Counts {
		n += c.Skipped
	}
	return n
}

// assertAllUnder checks that every wrapped key of the table records the target key.
func assertAllUnder(t *testing.T, s *devstack.Stack, key keyrewrap.Key, target string) {
	t.Helper()
	table, attr := s.Env.Config.VaultTable, "keyId"
	if key == keyrewrap.Data {
		table, attr = s.Env.Config.BillingTable, "key_id"
	}
	out, err := dynamodb.NewFromConfig(s.Env.AWS).Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		if _, wraps := it["wrappedKey"]; !wraps {
			if _, wraps = it["wrapped"]; !wraps {
				continue
			}
		}
		if rec, _ := it[attr].(*types.AttributeValueMemberS); rec == nil || rec.Value != target {
			t.Errorf("%s: %v still records %v", key, it["pk"], it[attr])
		}
	}
}

// auditRecords are the records named name in the stack's audit table.
func auditRecords(t *testing.T, s *devstack.Stack, name string) []audit.Record {
	t.Helper()
	out, err := dynamodb.NewFromConfig(s.Env.AWS).Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(s.Env.Config.AuditTable)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	for _, it := range out.Items {
		rec, err := audit.Decode(it)
		if err != nil {
			t.Fatal(err)
		}
		if rec.EventName == name {
			recs = append(recs, rec)
		}
	}
	return recs
}

// TestRewrapCountsAWriteWhoseAnswerWasLost: an item write DynamoDB applied but whose answer was lost
// is retried by the SDK and meets the key this run wrote: the item is rewrapped, not "gone".
func TestRewrapCountsAWriteWhoseAnswerWasLost(t *testing.T) {
	s := stacktest.New(t)
	bill, pay := as(t, s, "billing"), as(t, s, "payments")
	id := customer(bill, "Lost Answer", "lost@example.com")
	pay.Must(201, "POST", "/v1/tokens", tokenBody(id, "4242424242424242", "Lost"), nil)
	target := newKey(t, kms.NewFromConfig(s.Env.AWS), "vault")
	cfg, faults := stacktest.InjectFaults(s.Env.AWS, 1)
	rw := rewrapper(t, s, cfg)
	rw.Backups = nil
	faults.Set(stacktest.FaultRule{Service: "DynamoDB", Operation: "UpdateItem", P: 1, Faults: []stacktest.Fault{stacktest.Drop}, Limit: 1})
	res, err := rw.Run(t.Context(), keyrewrap.Vault, target)
	if err != nil {
		t.Fatal(err)
	}
	if faults.Total() != 1 {
		t.Fatalf("faults injected: %s, want one lost answer", faults.Summary())
	}
	for _, c := range res.Counts {
		if c.Gone != 0 {
			t.Errorf("%s: %d items reported deleted meanwhile, want none: %+v", c.Kind, c.Gone, res.Counts)
		}
	}
	if n := rewrapped(res); n != 2 { // the token's data key and the fingerprint key
		t.Errorf("rewrapped %d items, want 2: %+v", n, res.Counts)
	}
	assertAllUnder(t, s, keyrewrap.Vault, target)
}
