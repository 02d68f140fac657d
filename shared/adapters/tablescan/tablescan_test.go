package tablescan

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// pages serves n pages of 10 items each.
type pages struct {
	n     int
	calls atomic.Int32
}

func (p *pages) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	page := int(p.calls.Add(1)) - 1
	out := &dynamodb.ScanOutput{}
	for i := range 10 {
		out.Items = append(out.Items, map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: strconv.Itoa(page*10 + i)}})
	}
	if page+1 < p.n {
		out.LastEvaluatedKey = map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: strconv.Itoa(page)}}
	}
	return out, nil
}

func TestEachVisitsEveryItemOnce(t *testing.T) {
	db := &pages{n: 5}
	var seen atomic.Int32
	err := Each(context.Background(), db, &dynamodb.ScanInput{TableName: aws.String("t")}, 4,
		func(context.Context, map[string]types.AttributeValue) error { seen.Add(1); return nil })
	if err != nil || seen.Load() != 50 {
		t.Fatalf("err %v, %d items visited, want 50", err, seen.Load())
	}
}

// TestEachStopsAtTheFirstError: a failing item stops the walk (no further page is read) and its error
// is returned, so an operator command never reports success over a failed item.
func TestEachStopsAtTheFirstError(t *testing.T) {
	db := &pages{n: 100}
	boom := errors.New("item 3 failed")
	err := Each(context.Background(), db, &dynamodb.ScanInput{TableName: aws.String("t")}, 2,
		func(_ context.Context, item map[string]types.AttributeValue) error {
			if item["pk"].(*types.AttributeValueMemberS).Value == "3" {
				return boom
			}
			return nil
		})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want the item's error", err)
	}
	if n := db.calls.Load(); n > 2 {
		t.Errorf("%d pages read after the failure in page 1", n)
	}
}
