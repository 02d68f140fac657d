package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Page is one page of a customer's tokens, newest first.
type Page struct {
	Tokens     []Token
	HasMore    bool
	NextCursor string
}

// cursor is the position after the last token of a page. It holds keys only, never card data.
type cursor struct {
	PK     string `json:"pk"`
	GSI1PK string `json:"g1pk"`
	GSI1SK string `json:"g1sk"`
}

// List returns up to limit of the customer's tokens after the cursor ("" for the first page).
func (v *Vault) List(ctx context.Context, customerID string, limit int, after string) (Page, error) {
	partition := "CUS#" + customerID
	in := &dynamodb.QueryInput{
		TableName:              aws.String(v.table),
		IndexName:              aws.String(resources.GSI1),
		KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#sk, :tok)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": resources.GSI1PK, "#sk": resources.GSI1SK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: partition}, ":tok": &types.AttributeValueMemberS{Value: "TOK#"},
		},
		ScanIndexForward: aws.Bool(false),
		// One more than asked tells whether there is a next page without a second query.
		Limit: aws.Int32(int32(limit + 1)),
	}
	if after != "" {
		c, err := decodeCursor(after)
		if err != nil || c.GSI1PK != partition || !strings.HasPrefix(c.PK, "TOK#") {
			return Page{}, invalidCursor()
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			resources.PK: &types.AttributeValueMemberS{Value: c.PK}, resources.SK: &types.AttributeValueMemberS{Value: "TOK"},
			resources.GSI1PK: &types.AttributeValueMemberS{Value: c.GSI1PK}, resources.GSI1SK: &types.AttributeValueMemberS{Value: c.GSI1SK},
		}
	}
	var page Page
	var items []tokenItem
	for len(items) <= limit {
		out, err := v.db.Query(ctx, in)
		if err != nil {
			return Page{}, fmt.Errorf("list tokens of customer %s: %w", customerID, err)
		}
		var batch []tokenItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &batch); err != nil {
			return Page{}, fmt.Errorf("decode tokens of customer %s: %w", customerID, err)
		}
		items = append(items, batch...)
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if len(items) > limit {
		items = items[:limit]
		page.HasMore = true
		last := items[limit-1]
		page.NextCursor = encodeCursor(cursor{PK: last.PK, GSI1PK: last.GSI1PK, GSI1SK: last.GSI1SK})
	}
	for _, it := range items {
		tok, err := it.token()
		if err != nil {
			return Page{}, err
		}
		page.Tokens = append(page.Tokens, tok)
	}
	return page, nil
}

func invalidCursor() error {
	e := problem.Malformed("The cursor is not one this list returned.")
	e.Fields = []problem.FieldError{{Field: "cursor", Message: "must be a next_cursor value from this list"}}
	return e
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c) // a struct of strings always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, err
	}
	var c cursor
	err = json.Unmarshal(b, &c)
	return c, err
}
