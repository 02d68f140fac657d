package hostedlink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// linkDB holds link items in memory and remembers the partition keys it was asked for.
type linkDB struct {
	items map[string]map[string]types.AttributeValue
	asked []string
}

func (d *linkDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	pk := in.Key[resources.PK].(*types.AttributeValueMemberS).Value
	d.asked = append(d.asked, pk)
	return &dynamodb.GetItemOutput{Item: d.items[pk]}, nil
}

func (d *linkDB) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	panic("a link lookup never queries")
}

// FuzzLookup attacks the hosted page's capability: a link secret is the only thing an anonymous
// caller presents. Properties: only the exact secret that was issued finds its link (no prefix,
// suffix, case change, padding or other encoding of the same bytes does); a malformed secret costs no
// database read; the database is only ever asked for the secret's hash, never the secret; and a
// refusal is a not-found problem that does not echo what was sent.
func FuzzLookup(f *testing.F) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	st := &Store{DB: &linkDB{}, Table: "billing", Clock: func() time.Time { return now }}
	issued, _, put, err := st.New(&billing.Invoice{ID: "in_aaaaaaaaaaaaaaaaaaaaaaaaaa", CustomerID: "cus_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	item := put.Put.Item
	for _, s := range []string{
		issued, issued + "=", issued[:secretLen-1], strings.ToUpper(issued), issued + "A",
		issued[:secretLen-1] + "B", strings.NewReplacer("-", "+", "_", "/").Replace(issued),
		"", "%00", "../../LINK", strings.Repeat("A", secretLen), strings.Repeat("=", secretLen),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		db := &linkDB{items: map[string]map[string]types.AttributeValue{
			item[resources.PK].(*types.AttributeValueMemberS).Value: item,
		}}
		st := &Store{DB: db, Table: "billing", Clock: func() time.Time { return now }}
		l, err := st.Lookup(context.Background(), secret)
		if secret == issued {
			if err != nil || l.InvoiceID != "in_aaaaaaaaaaaaaaaaaaaaaaaaaa" {
				t.Fatalf("the issued secret: %+v, %v", l, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("secret %q (issued %q) found link %+v", secret, issued, l)
		}
		if problem.CodeOf(err) != problem.NotFound {
			t.Fatalf("secret %q: %v, want a not-found problem", secret, err)
		}
		if len(secret) >= 8 && strings.Contains(err.Error(), secret) {
			t.Fatalf("refusal echoes the secret: %v", err)
		}
		if len(secret) != secretLen && len(db.asked) != 0 {
			t.Fatalf("malformed secret %q cost a read", secret)
		}
		for _, pk := range db.asked {
			if pk != linkPK+hash(secret) {
				t.Fatalf("asked for %q, want the hash of the secret", pk)
			}
		}
	})
}
