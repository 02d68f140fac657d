package endpoint

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// dependencyFaults are the SDK's own classes of a transient fault: throttling, a 5xx, a connection
// error, a timeout. The SDK retried such a call before giving up, so its error is an outage, not a bug.
var (
	dependencyFaults = retry.IsErrorRetryables(retry.DefaultRetryables)
	throttles        = retry.IsErrorThrottles(retry.DefaultThrottles)
)

// unavailable maps an AWS call that failed on a dependency fault, wherever in the request it happened
// (the handler's own calls, the idempotency claim, the audit write), to service_unavailable (503):
// the client may retry with the same Idempotency-Key. Problems keep their code, and anything else (a
// client fault of a call, a bug) stays an internal error.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	var pe *problem.Error
	var op *smithy.OperationError
	if errors.As(err, &pe) || !errors.As(err, &op) {
		return err
	}
	var maxAttempts *retry.MaxAttemptsError
	if errors.As(err, &maxAttempts) || errors.Is(err, context.DeadlineExceeded) ||
		dependencyFaults.IsErrorRetryable(err) == aws.TrueTernary || throttles.IsErrorThrottle(err) == aws.TrueTernary {
		return problem.Wrap(problem.ServiceUnavailable, err, "A service the request depends on is unavailable; nothing was changed. Retry shortly with the same Idempotency-Key.")
	}
	return err
}
