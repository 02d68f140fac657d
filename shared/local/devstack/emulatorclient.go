package devstack

import (
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// serialDynamoDB makes each DynamoDB call to the emulator atomic with respect to the others, as
// DynamoDB guarantees and moto does not: moto applies a TransactWriteItems by snapshotting whole tables
// and restoring them when a condition fails, which can undo a concurrent request's committed write.
// Requests still interleave between calls, so conditional writes and transactions race as in AWS.
// Other services pass through unserialized.
type serialDynamoDB struct {
	mu   sync.Mutex
	next aws.HTTPClient
}

func newSerialDynamoDB(next aws.HTTPClient) *serialDynamoDB {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	return &serialDynamoDB{next: next}
}

func (c *serialDynamoDB) Do(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_") {
		return c.next.Do(req)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next.Do(req)
}
