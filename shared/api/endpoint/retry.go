package endpoint

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// ErrRetry is what a round of Retry returns when it lost a race and must read again.
var ErrRetry = errors.New("retry")

// Retry runs round (read, decide, write under a condition) until it returns anything but ErrRetry, at
// most attempts times, with a short jittered wait between rounds. A request that loses every round
// answers 503 service_unavailable with busy as detail: the client may retry shortly.
func Retry(ctx context.Context, attempts int, busy string, round func(attempt int) (*Result, error)) (*Result, error) {
	for attempt := 0; attempt < attempts; attempt++ {
		res, err := round(attempt)
		if !errors.Is(err, ErrRetry) {
			return res, err
		}
		Backoff(ctx, attempt)
	}
	return nil, problem.New(problem.ServiceUnavailable, "%s", busy)
}

// Backoff waits before the round after attempt of a lost race, or until ctx ends. The wait is
// jittered so that racing requests spread out instead of colliding again in step, and grows with the
// attempts to under 55 ms.
func Backoff(ctx context.Context, attempt int) {
	d := time.Duration(rand.IntN(5+5*min(attempt, 10))) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
