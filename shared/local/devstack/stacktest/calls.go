package stacktest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Calls counts the AWS operations clients send, keyed "Service Operation" ("DynamoDB GetItem",
// "KMS Decrypt"), through the SDK's middleware stack, as an operator would count them in CloudTrail.
// Tests use it to pin how many round trips a route or a job makes.
type Calls struct {
	mu sync.Mutex
	n  map[string]int
}

// CountCalls returns a copy of cfg whose clients count every operation they send into the returned Calls.
func CountCalls(cfg aws.Config) (aws.Config, *Calls) {
	c := &Calls{n: map[string]int{}}
	cfg = cfg.Copy()
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("countCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				c.n[awsmiddleware.GetServiceID(ctx)+" "+awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
	return cfg, c
}

// Take returns the counts since the last Take (or Reset) and starts counting afresh.
func (c *Calls) Take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

// TakeService is Take for one service, keyed by operation alone ("GetItem").
func (c *Calls) TakeService(service string) map[string]int {
	out := map[string]int{}
	for k, n := range c.Take() {
		if op, ok := strings.CutPrefix(k, service+" "); ok {
			out[op] = n
		}
	}
	return out
}

// Get returns the count of one "Service Operation".
func (c *Calls) Get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// Service returns the count of all of a service's operations.
func (c *Calls) Service(service string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for k, n := range c.n {
		if strings.HasPrefix(k, service+" ") {
			total += n
		}
	}
	return total
}

// Reset starts counting afresh.
func (c *Calls) Reset() { c.Take() }

// Exceeding lists the calls in got beyond what want allows: an operation want does not name, or more
// of one than it allows. Route tests pin call counts as upper bounds: a change that saves a round trip
// passes, one that adds a call (or a new kind of call) fails until the table says why it is needed.
func Exceeding(want, got map[string]int) []string {
	var out []string
	for op, n := range got {
		if n > want[op] {
			out = append(out, fmt.Sprintf("%d %s (at most %d)", n, op, want[op]))
		}
	}
	slices.Sort(out)
	return out
}

// FormatCalls writes counted calls as one line, e.g. "1 DynamoDB GetItem + 2 KMS Decrypt", for a test's log.
func FormatCalls(calls map[string]int) string {
	parts := make([]string, 0, len(calls))
	for op, n := range calls {
		parts = append(parts, fmt.Sprintf("%d %s", n, op))
	}
	slices.Sort(parts)
	return strings.Join(parts, " + ")
}
