// Package sessions keeps each user's session epoch in the billing table: the instant before which
// every token of the user is refused. The users function moves it on disable, sign-out and role
// change; the authorizer reads it on every invocation, which is how a token verified offline is
// revoked within the authorizer cache's TTL (DESIGN §4).
package sessions

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// KeyPrefix starts the partition key of every session epoch item; the authorizer's IAM grant names
// only items whose key starts with it.
const KeyPrefix = resources.SessionKeyPrefix

// sortKey is the one sort key of an epoch item.
const sortKey = "EPOCH"

// attrNotBefore holds the epoch in Unix seconds.
const attrNotBefore = "notBefore"

// Getter is the DynamoDB call the authorizer makes.
type Getter interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Store reads session epochs.
type Store struct {
	DB    Getter
	Table string
}

// Key is the primary key of subject's epoch item.
func Key(subject string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		resources.PK: &types.AttributeValueMemberS{Value: KeyPrefix + subject},
		resources.SK: &types.AttributeValueMemberS{Value: sortKey},
	}
}

// NotBefore returns subject's epoch: tokens issued (iat) before it are revoked. The zero time means
// no revocation was ever recorded. The read is strongly consistent so that a revocation written a
// moment ago is seen.
func (s *Store) NotBefore(ctx context.Context, subject string) (time.Time, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: Key(subject), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String(attrNotBefore),
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read session epoch: %w", err)
	}
	v, ok := out.Item[attrNotBefore].(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}, nil
	}
	secs, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("session epoch of %s: %w", subject, err)
	}
	return time.Unix(secs, 0), nil
}

// RevokeItem is the write that revokes every token subject holds at now. Token times are whole
// seconds, so a token issued in the same second as the revocation cannot be told from one issued
// just before it: the epoch is the next whole second, and a sign-in in that same second has to be
// repeated a moment later.
func RevokeItem(table, subject string, now time.Time) types.TransactWriteItem {
	epoch := strconv.FormatInt(now.Unix()+1, 10)
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(table),
		Key:                       Key(subject),
		UpdateExpression:          aws.String("SET #nb = :nb"),
		ExpressionAttributeNames:  map[string]string{"#nb": attrNotBefore},
		ExpressionAttributeValues: map[string]types.AttributeValue{":nb": &types.AttributeValueMemberN{Value: epoch}},
	}}
}

// Revoked reports whether a token issued at iat is revoked by epoch notBefore.
func Revoked(iat, notBefore time.Time) bool {
	return !notBefore.IsZero() && (iat.IsZero() || iat.Before(notBefore))
}
