package devstack

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestScheduleRunsOnEveryTickUntilStopped(t *testing.T) {
	ticks := make(chan time.Time)
	runs := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		runEvery(ctx, ticks, "backup", func(context.Context) error {
			runs <- struct{}{}
			return errors.New("a failed run does not stop the schedule")
		}, slog.New(slog.DiscardHandler))
		close(done)
	}()
	for range 2 {
		ticks <- time.Now()
		<-runs
	}
	cancel()
	<-done // the worker returns once stopped
}
