package billingdb

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Unavailable maps a DynamoDB fault (throttling, a cancelled or conflicting transaction, a service
// error) to service_unavailable (503) with the client-safe detail: nothing was stored and a retry may
// succeed. Problems pass through as they are; anything else stays as it is, an internal error.
func Unavailable(err error, detail string) error {
	if err == nil {
		return nil
	}
	var pe *problem.Error
	if errors.As(err, &pe) {
		return err
	}
	var (
		tce      *types.TransactionCanceledException
		throttle *types.ProvisionedThroughputExceededException
		limit    *types.RequestLimitExceeded
		inProg   *types.TransactionInProgressException
		internal *types.InternalServerError
	)
	if errors.As(err, &tce) || errors.As(err, &throttle) || errors.As(err, &limit) || errors.As(err, &inProg) || errors.As(err, &internal) {
		return problem.Wrap(problem.ServiceUnavailable, err, detail)
	}
	return err
}
