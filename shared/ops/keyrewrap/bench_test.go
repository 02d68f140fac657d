package keyrewrap_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/keyrewrap"
)

// benchItems is how many items each benchmark rewraps per run.
const benchItems = 300

// BenchmarkRewrap is the rewrap rate against the emulator (items/s), and the KMS calls per item:
// customer keys (each its own wrapped key: one ReEncrypt and one write per item) and tokens (card
// data keys serve many tokens: one ReEncrypt per data key, one write per token). Each run moves every
// item to the other of two keys.
//
//	go test -run '^$' -bench Rewrap ./shared/ops/keyrewrap
func BenchmarkRewrap(b *testing.B) {
	for _, kind := range []keyrewrap.Key{keyrewrap.Data, keyrewrap.Vault} {
		name := map[keyrewrap.Key]string{keyrewrap.Data: "customer-keys", keyrewrap.Vault: "tokens"}[kind]
		b.Run(name, func(b *testing.B) {
			s := stacktest.New(b)
			ctx := b.Context()
			db := dynamodb.NewFromConfig(s.Env.AWS)
			k := kms.NewFromConfig(s.Env.AWS)
			if kind == keyrewrap.Data {
				keys := customerkeys.New(k, db, s.Env.Config.BillingTable, s.Env.Config.DataKeyID)
				for range benchItems {
					_, put, err := keys.Create(ctx, ids.New(ids.Customer))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.Put.TableName, Item: put.Put.Item}); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				// Token items as the vault writes them, sharing one card data key (the envelope cache
				// seals up to 10 000 cards under one); only the wrapped key matters to a rewrap.
				dk, err := k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
					KeyId: aws.String(s.Env.Config.VaultKeyID), KeySpec: ktypes.DataKeySpecAes256, EncryptionContext: vault.CardDataContext,
				})
				if err != nil {
					b.Fatal(err)
				}
				for range benchItems {
					id := vault.NewTokenID()
					if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Env.Config.VaultTable), Item: map[string]types.AttributeValue{
						"pk": &types.AttributeValueMemberS{Value: "TOK#" + id}, "sk": &types.AttributeValueMemberS{Value: "TOK"},
						"wrappedKey": &types.AttributeValueMemberB{Value: dk.CiphertextBlob}, "keyId": &types.AttributeValueMemberS{Value: aws.ToString(dk.KeyId)},
					}}); err != nil {
						b.Fatal(err)
					}
				}
			}
			cur := map[keyrewrap.Key]string{keyrewrap.Data: s.Env.Config.DataKeyID, keyrewrap.Vault: s.Env.Config.VaultKeyID}[kind]
			targets := []string{newKey(b, k, "a"), keyARN(b, k, cur)}
			cfg, calls := stacktest.CountCalls(s.Env.AWS)
			rw := &keyrewrap.Rewrapper{
				KMS: kms.NewFromConfig(cfg), DB: dynamodb.NewFromConfig(cfg),
				BillingTable: s.Env.Config.BillingTable, VaultTable: s.Env.Config.VaultTable,
				Current: map[keyrewrap.Key]string{kind: cur},
			}
			calls.Reset()
			var items int
			start := time.Now()
			i := 0
			for b.Loop() {
				to := targets[i%2]
				i++
				rw.Current[kind] = targets[i%2] // the key the items are under now
				res, err := rw.Run(ctx, kind, to)
				if err != nil {
					b.Fatal(err)
				}
				items += rewrapped(res)
			}
			if items < benchItems*b.N {
				b.Fatalf("rewrapped %d items in %d runs, want %d per run", items, b.N, benchItems)
			}
			b.ReportMetric(float64(items)/time.Since(start).Seconds(), "items/s")
			b.ReportMetric(float64(calls.Get("KMS ReEncrypt"))/float64(items), "reencrypt/item")
		})
	}
}
