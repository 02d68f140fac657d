package backup

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// CreateTableInput renders a table definition as the DynamoDB API's create request: a restore creates
// its table with it, and the local provisioner its tables, so every table has the deployed schema.
func CreateTableInput(t resources.Table, name, kmsKey string) *dynamodb.CreateTableInput {
	attrs := map[string]resources.Attr{}
	schema := []dtypes.KeySchemaElement{{AttributeName: aws.String(t.HashKey.Name), KeyType: dtypes.KeyTypeHash}}
	attrs[t.HashKey.Name] = t.HashKey
	if t.RangeKey.Name != "" {
		schema = append(schema, dtypes.KeySchemaElement{AttributeName: aws.String(t.RangeKey.Name), KeyType: dtypes.KeyTypeRange})
		attrs[t.RangeKey.Name] = t.RangeKey
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: dtypes.BillingModePayPerRequest,
		KeySchema:   schema,
		SSESpecification: &dtypes.SSESpecification{
			Enabled: aws.Bool(true), SSEType: dtypes.SSETypeKms, KMSMasterKeyId: aws.String(kmsKey),
		},
	}
	for _, ix := range t.Indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, dtypes.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name),
			KeySchema: []dtypes.KeySchemaElement{
				{AttributeName: aws.String(ix.HashKey.Name), KeyType: dtypes.KeyTypeHash},
				{AttributeName: aws.String(ix.RangeKey.Name), KeyType: dtypes.KeyTypeRange},
			},
			Projection: &dtypes.Projection{ProjectionType: dtypes.ProjectionTypeAll},
		})
		attrs[ix.HashKey.Name], attrs[ix.RangeKey.Name] = ix.HashKey, ix.RangeKey
	}
	for _, a := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, dtypes.AttributeDefinition{
			AttributeName: aws.String(a.Name), AttributeType: dtypes.ScalarAttributeType(a.Type),
		})
	}
	if t.Stream {
		in.StreamSpecification = &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewImage}
	}
	return in
}
