package endpoint

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/idempotency"
	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// CommitRefusal is Commit for a request that is refused and yet changes something that must be kept,
// such as a declined charge, which is recorded as a failed payment: items, the request's audit record
// (with refusal's code as its errorCode) and the problem response as the idempotent outcome commit in
// one DynamoDB transaction. After it succeeds the handler returns refusal, and the client gets it.
func (c *Call) CommitRefusal(ctx context.Context, refusal *problem.Error, items ...types.TransactWriteItem) error {
	resp := httpapi.Error(refusal, c.record.RequestID, nil)
	rec := c.record
	rec.ErrorCode = string(refusal.Code)
	rec.ErrorMessage = refusal.Title()
	rec.Resources = c.Resources
	recItem, err := c.svc.Audit.TransactItem(rec.Redacted())
	if err != nil {
		return err
	}
	all := append(items[:len(items):len(items)], recItem)
	if c.claim != nil && replayable(resp.StatusCode) {
		all = append(all, c.svc.Idempotency.CompleteItem(c.claim, idempotency.Response{
			Status: resp.StatusCode, ContentType: resp.Headers["Content-Type"], Body: resp.Body,
		}))
	}
	if _, err := c.svc.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: all}); err != nil {
		return fmt.Errorf("commit %s refusal: %w", c.Route.Operation, err)
	}
	if c.claim != nil && !replayable(resp.StatusCode) {
		// A conflict or fault is not a settled answer: the key is freed for the client's retry.
		if rerr := c.svc.Idempotency.Release(ctx, c.claim); rerr != nil {
			c.Log().Error("release idempotency key", "error", rerr)
		}
	}
	c.record = rec
	c.committed = true
	c.responded = &resp
	return nil
}
