package keyrewrap_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/keyrewrap"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
)

// eraseFirst deletes an item just before the rewrap writes it: an erasure between the scan and the write.
type eraseFirst struct {
	keyrewrap.DB
	table string
	pk    string
}

func (e *eraseFirst) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if in.Key["pk"].(*types.AttributeValueMemberS).Value == e.pk {
		if _, err := e.DB.(*dynamodb.Client).DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: in.Key}); err != nil {
			return nil, err
		}
	}
	return e.DB.UpdateItem(ctx, in, opts...)
}

// TestRewrapNeverBringsBackAnErasedKey: a customer key deleted (the customer erased) after the scan
// read it and before its rewrite stays deleted; the other customer's key is rewrapped.
func TestRewrapNeverBringsBackAnErasedKey(t *testing.T) {
	s := stacktest.New(t)
	bill := as(t, s, "billing")
	erased, kept := customer(bill, "Erased Meanwhile", "erased.meanwhile@example.com"), customer(bill, "Kept Customer", "kept@example.com")
	rw := rewrapper(t, s, s.Env.AWS)
	rw.Backups = nil
	db := dynamodb.NewFromConfig(s.Env.AWS)
	rw.DB = &eraseFirst{DB: db, table: s.Env.Config.BillingTable, pk: customerkeys.PKPrefix + erased}
	res, err := rw.Run(t.Context(), keyrewrap.Data, newKey(t, kms.NewFromConfig(s.Env.AWS), "data"))
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Counts[0]; c.Gone != 1 || c.Rewrapped != 1 {
		t.Errorf("counts %+v; want one rewrapped, one gone", c)
	}
	for id, want := range map[string]bool{erased: false, kept: true} {
		out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(s.Env.Config.BillingTable), Key: customerkeys.ItemKey(id), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Item != nil; got != want {
			t.Errorf("key item of %s exists: %v, want %v", id, got, want)
		}
	}
}

// TestRewrapRefusesADataKeyOfAnotherKMSKey: a token whose data key is wrapped under a KMS key that is
// neither the vault key nor the target (planted by someone who can write the table) is not adopted:
// the run stops and the item is left as it was.
func TestRewrapRefusesADataKeyOfAnotherKMSKey(t *testing.T) {
	s := stacktest.New(t)
	k := kms.NewFromConfig(s.Env.AWS)
	foreign := newKey(t, k, "foreign")
	dk, err := k.GenerateDataKey(t.Context(), &kms.GenerateDataKeyInput{KeyId: aws.String(foreign), KeySpec: ktypes.DataKeySpecAes256, EncryptionContext: vault.CardDataContext})
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(s.Env.AWS)
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TOK#" + vault.NewTokenID()}, "sk": &types.AttributeValueMemberS{Value: "TOK"}}
	item := map[string]types.AttributeValue{"wrappedKey": &types.AttributeValueMemberB{Value: dk.CiphertextBlob}}
	for k, v := range key {
		item[k] = v
	}
	if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(s.Env.Config.VaultTable), Item: item}); err != nil {
		t.Fatal(err)
	}
	rw := rewrapper(t, s, s.Env.AWS)
	rw.Backups = nil
	_, err = rw.Run(t.Context(), keyrewrap.Vault, newKey(t, k, "target"))
	if !errors.Is(err, keyrewrap.ErrForeignKey) {
		t.Fatalf("rewrap: %v, want ErrForeignKey", err)
	}
	out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(s.Env.Config.VaultTable), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := out.Item["wrappedKey"].(*types.AttributeValueMemberB); w == nil || !bytes.Equal(w.Value, dk.CiphertextBlob) || out.Item["keyId"] != nil {
		t.Errorf("the planted token was rewritten: %v", out.Item)
	}
}

// TestRewrapRefusesATamperedManifest: a manifest altered in the bucket is not rewritten (and so not
// MAC'd again under its data key, which would make the alteration pass every later check).
func TestRewrapRefusesATamperedManifest(t *testing.T) {
	s := stacktest.New(t)
	r, err := backupwiring.New(s.Env, "test")
	if err != nil {
		t.Fatal(err)
	}
	r.Metrics = io.Discard
	taken, err := r.Backup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3client.New(s.Env.AWS)
	bucket, object := s.Env.Config.BackupBucket, "backups/billing/"+taken.ID+"/manifest.json"
	got, err := s3c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(object)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	tampered := []byte(strings.Replace(string(body), `"itemCount": `, `"itemCount": 9`, 1))
	if _, err := s3c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(object), Body: bytes.NewReader(tampered)}); err != nil {
		t.Fatal(err)
	}
	_, err = rewrapper(t, s, s.Env.AWS).Run(t.Context(), keyrewrap.Backup, newKey(t, kms.NewFromConfig(s.Env.AWS), "backup"))
	if !errors.Is(err, backup.ErrTampered) {
		t.Fatalf("rewrap of a tampered manifest: %v, want ErrTampered", err)
	}
	got, err = s3c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(object)})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(after, tampered) {
		t.Errorf("the tampered manifest was rewritten")
	}
}
