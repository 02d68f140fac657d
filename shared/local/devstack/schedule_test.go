package devstack

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"
)

// TestScheduleRunsOnEveryTickUntilStopped runs the daily schedule for three days of the bubble's fake
// clock: three runs, a failed run does not stop the schedule, and nothing runs after Stop.
func TestScheduleRunsOnEveryTickUntilStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		ticker := time.NewTicker(DefaultBackupEvery)
		defer ticker.Stop()
		runs := 0
		done := make(chan struct{})
		go func() {
			runEvery(ctx, ticker.C, "backup", func(context.Context) error {
				runs++
				return errors.New("a failed run does not stop the schedule")
			}, slog.New(slog.DiscardHandler))
			close(done)
		}()

		time.Sleep(3*DefaultBackupEvery + time.Minute)
		synctest.Wait()
		if runs != 3 {
			t.Errorf("after three days: %d runs, want 3", runs)
		}

		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("the schedule still runs after Stop")
		}
		time.Sleep(2 * DefaultBackupEvery)
		synctest.Wait()
		if runs != 3 {
			t.Errorf("%d runs after Stop, want none", runs-3)
		}
	})
}
