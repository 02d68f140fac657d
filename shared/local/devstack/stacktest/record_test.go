package stacktest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
)

func TestDescribe(t *testing.T) {
	key := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "x"}}
	}
	for _, c := range []struct {
		name           string
		service, op    string
		params, result any
		want           []Call
	}{
		{"a transaction is one call per item, as IAM authorizes it", "DynamoDB", "TransactWriteItems",
			&dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: aws.String("t1-billing"), Item: key("INV#1")}},
				{ConditionCheck: &types.ConditionCheck{TableName: aws.String("t1-billing"), Key: key("IDEM#1")}},
			}}, nil,
			[]Call{
				{Function: "fn", Service: "DynamoDB", Operation: "TransactWriteItems", Item: "Put", Table: "t1-billing", LeadingKeys: []string{"INV#1"}},
				{Function: "fn", Service: "DynamoDB", Operation: "TransactWriteItems", Item: "ConditionCheck", Table: "t1-billing", LeadingKeys: []string{"IDEM#1"}},
			}},
		{"a query names its index", "DynamoDB", "Query",
			&dynamodb.QueryInput{TableName: aws.String("t1-audit"), IndexName: aws.String("by-time")}, nil,
			[]Call{{Function: "fn", Service: "DynamoDB", Operation: "Query", Table: "t1-audit", Index: "by-time"}}},
		{"a decrypt without a key id names the key the response does", "KMS", "Decrypt",
			&kms.DecryptInput{EncryptionContext: map[string]string{"vaultbill:purpose": "card-data"}},
			&kms.DecryptOutput{KeyId: aws.String("arn:aws:kms:us-east-1:1:key/k1")},
			[]Call{{Function: "fn", Service: "KMS", Operation: "Decrypt", Key: "arn:aws:kms:us-east-1:1:key/k1", EncryptionContext: map[string]string{"vaultbill:purpose": "card-data"}}}},
		{"a list without a prefix is the empty prefix", "S3", "ListObjectsV2",
			&s3.ListObjectsV2Input{Bucket: aws.String("b")}, nil,
			[]Call{{Function: "fn", Service: "S3", Operation: "ListObjectsV2", Bucket: "b", Prefix: aws.String("")}}},
		{"an object names bucket and key", "S3", "PutObject",
			&s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("backups/x")}, nil,
			[]Call{{Function: "fn", Service: "S3", Operation: "PutObject", Bucket: "b", Object: "backups/x"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, describe("fn", c.service, c.op, c.params, c.result)); d != "" {
				t.Error(d)
			}
		})
	}
}
