package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// LambdaAPI is the one Lambda call a function makes: invoking itself asynchronously to continue.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Reinvoker continues a paused run in a new invocation of the running function.
type Reinvoker struct {
	Lambda LambdaAPI
	// Function is the running function's name (AWS_LAMBDA_FUNCTION_NAME).
	Function string
}

// continueWith invokes the function again, asynchronously, with payload. Lambda's asynchronous
// retries cover a continuation that fails, with the same payload.
func (r *Runner) continueWith(ctx context.Context, payload any) error {
	if r.Reinvoke == nil {
		return errors.New("the run needs another invocation, and this runner cannot invoke one")
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode continuation: %w", err)
	}
	if _, err := r.Reinvoke.Lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(r.Reinvoke.Function), InvocationType: ltypes.InvocationTypeEvent, Payload: b,
	}); err != nil {
		return fmt.Errorf("continue in a new invocation of %s: %w", r.Reinvoke.Function, err)
	}
	return nil
}

// reinvokerFromEnv is the Reinvoker of the running Lambda function, or nil outside Lambda.
func reinvokerFromEnv(cfg aws.Config) *Reinvoker {
	fn := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	if fn == "" {
		return nil
	}
	return &Reinvoker{Lambda: lambda.NewFromConfig(cfg), Function: fn}
}
