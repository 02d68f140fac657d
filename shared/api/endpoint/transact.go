package endpoint

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
)

// Transact writes items in one DynamoDB transaction through the runtime's client, apart from the
// request's own audit record and outcome (Commit writes those): a step a handler takes on the way, such
// as reserving an amount, that must be stored before it goes on. The error is the client's, so a
// cancellation's reasons can be read from it.
func (c *Call) Transact(ctx context.Context, items ...types.TransactWriteItem) error {
	_, err := c.svc.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

// TransactAudited is Transact with a further audit record (made with AuditEvent) in the same
// transaction, so the step is never stored without its record. The record comes last, so the items
// keep their positions in a cancellation's reasons.
func (c *Call) TransactAudited(ctx context.Context, rec audit.Record, items ...types.TransactWriteItem) error {
	recItem, err := c.svc.Audit.TransactItem(rec)
	if err != nil {
		return err
	}
	return c.Transact(ctx, append(items[:len(items):len(items)], recItem)...)
}
