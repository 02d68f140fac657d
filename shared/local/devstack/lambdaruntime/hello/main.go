// Command hello is the smallest aws-lambda-go function: the cold-start baseline the functions' init
// is measured against (built with the same flags, run under the same emulator).
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
