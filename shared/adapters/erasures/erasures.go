// Package erasures owns the erasure ledger and the re-application of erasures to restored tables.
//
// The ledger records each customer erasure (customer id, time, requesting principal id: no personal
// data) as one object erasures/<customer id>.json in the backup bucket. It lives outside every table
// that backups cover, so a restore cannot roll it back: after any restore (ours, a point-in-time
// recovery or an AWS Backup restore), Reapply erases again every customer the ledger lists, in the
// restored billing and vault tables: the customer's key item is deleted (its personal data becomes
// unreadable), its sealed personal data and plaintext fields removed, and its card tokens deleted.
// `vaultbill erasures reapply --billing-table ... --vault-table ...` runs it by hand.
//
// The ledger is written before the erasure itself, so an erasure that fails halfway is still listed
// and is completed by the next restore or by retrying the request.
package erasures

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Prefix is where the ledger's objects live in the backup bucket.
const Prefix = resources.ErasuresPrefix

// Entry is one erasure: ids and a time only.
type Entry struct {
	CustomerID  string `json:"customer_id"`
	ErasedAt    string `json:"erased_at"`
	PrincipalID string `json:"principal_id"`
}

// S3 is the S3 calls of the ledger; *s3.Client satisfies it.
type S3 interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Ledger is the erasure ledger in a bucket.
type Ledger struct {
	S3     S3
	Bucket string
}

// Record writes an erasure to the ledger (again, harmlessly, when it is already there).
func (l *Ledger) Record(ctx context.Context, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := l.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(l.Bucket), Key: aws.String(Prefix + e.CustomerID + ".json"),
		Body: bytes.NewReader(b), ContentType: aws.String("application/json"),
	}); err != nil {
		return fmt.Errorf("record erasure of %s: %w", e.CustomerID, err)
	}
	return nil
}

// All returns every erasure in the ledger, oldest first.
func (l *Ledger) All(ctx context.Context) ([]Entry, error) {
	var out []Entry
	in := &s3.ListObjectsV2Input{Bucket: aws.String(l.Bucket), Prefix: aws.String(Prefix)}
	for {
		page, err := l.S3.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list erasure ledger: %w", err)
		}
		for _, o := range page.Contents {
			obj, err := l.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(l.Bucket), Key: o.Key})
			if err != nil {
				return nil, fmt.Errorf("read erasure %s: %w", aws.ToString(o.Key), err)
			}
			b, err := io.ReadAll(io.LimitReader(obj.Body, 4096))
			_ = obj.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("read erasure %s: %w", aws.ToString(o.Key), err)
			}
			var e Entry
			if err := json.Unmarshal(b, &e); err != nil || e.CustomerID == "" {
				return nil, fmt.Errorf("erasure %s is not a ledger entry", aws.ToString(o.Key))
			}
			out = append(out, e)
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ErasedAt < out[j].ErasedAt })
	return out, nil
}

// DB is the DynamoDB calls of Reapply; *dynamodb.Client satisfies it.
type DB interface {
	vault.DB
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Tables are the tables an erasure is applied to: the live ones, or restored ones.
type Tables struct {
	Billing, Vault string
}

// Reapply erases every ledger entry again in tables, calling progress after each; it is idempotent.
// An empty table name skips that table (e.g. a restore of the billing table alone).
func Reapply(ctx context.Context, db DB, tables Tables, entries []Entry, progress func(done, total int)) error {
	for i, e := range entries {
		if err := Apply(ctx, db, tables, e); err != nil {
			return err
		}
		if progress != nil {
			progress(i+1, len(entries))
		}
	}
	return nil
}

// Apply erases one customer in tables: its tokens from the vault table, its key item and personal
// data from the billing table. It is idempotent, and a customer the tables do not hold is skipped.
func Apply(ctx context.Context, db DB, tables Tables, e Entry) error {
	if tables.Vault != "" {
		if err := DeleteTokens(ctx, db, tables.Vault, e.CustomerID); err != nil {
			return err
		}
	}
	if tables.Billing == "" {
		return nil
	}
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tables.Billing), Key: customerkeys.ItemKey(e.CustomerID)}); err != nil {
		return fmt.Errorf("delete key of customer %s: %w", e.CustomerID, err)
	}
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(tables.Billing),
		Key: map[string]types.AttributeValue{
			resources.PK: &types.AttributeValueMemberS{Value: "CUS#" + e.CustomerID}, resources.SK: &types.AttributeValueMemberS{Value: "CUS"},
		},
		UpdateExpression:          aws.String("SET erased = :t, erased_at = if_not_exists(erased_at, :at) REMOVE personal, #n, email, address, tax_id"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#n": "name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":at": &types.AttributeValueMemberS{Value: e.ErasedAt}},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return fmt.Errorf("erase customer %s: %w", e.CustomerID, err)
	}
	return nil
}

// DeleteTokens deletes every card token of a customer (and its card guard) from a vault table.
func DeleteTokens(ctx context.Context, db DB, vaultTable, customerID string) error {
	v := vault.New(vault.Config{DB: db, Table: vaultTable})
	for {
		page, err := v.List(ctx, customerID, 50, "")
		if err != nil {
			return err
		}
		if len(page.Tokens) == 0 {
			return nil
		}
		for _, tok := range page.Tokens {
			items := v.DeleteItems(tok)
			items[0].Delete.ConditionExpression = nil // already gone is fine
			if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
				return fmt.Errorf("delete token %s of customer %s: %w", tok.ID, customerID, err)
			}
		}
	}
}
