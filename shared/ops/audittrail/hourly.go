package audittrail

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/domain/clock"
)

// Alarm raises the failure of a stage of the trail's pipeline; *auditreview.Engine satisfies it.
type Alarm interface {
	Failed(ctx context.Context, stage string, err error)
	Flush(ctx context.Context)
}

// Hourly is the scheduled digest function. Each run first reconciles the outbox with the log files,
// shipping what the stream dropped, so the digest covers it.
type Hourly struct {
	Digester   *Digester
	Reconciler *Reconciler
	Review     Alarm
	// Clock is the clock (the local stack simulates hours with it).
	Clock clock.Func
}

// Handle runs on the hourly schedule. It covers the time since the last digest, so a late or
// retried run loses nothing. A failure alerts and is returned, so the scheduler retries.
func (a *Hourly) Handle(ctx context.Context, _ events.EventBridgeEvent) (DigestResult, error) {
	now := a.Clock.Now
	defer a.Review.Flush(ctx)
	var recErr error
	if a.Reconciler != nil {
		a.Reconciler.Shipper.Clock = now
		rec, err := a.Reconciler.Run(ctx, now())
		switch {
		case err != nil:
			recErr = fmt.Errorf("audit reconcile: %w", err)
			a.Review.Failed(ctx, StageReconcile, recErr)
		case rec.Shipped > 0:
			// Loud even though repaired: the stream lost these records, which must not happen silently.
			a.Review.Failed(ctx, StageReconcile, fmt.Errorf("%d audit records (the oldest from %s) were in no log file after %s; shipped them now",
				rec.Shipped, rec.Oldest, DefaultGrace))
		}
	}
	res, err := a.Digester.Run(ctx, now())
	if err != nil {
		a.Review.Failed(ctx, StageDigest, err)
		return res, fmt.Errorf("audit digest: %w", err)
	}
	for _, t := range res.Tampered {
		// Written into the digest as the shipper wrote it; alerted now rather than at the next validation.
		a.Review.Failed(ctx, StageDigest, fmt.Errorf("audit log file tampered with before its digest: %s", t))
	}
	return res, recErr
}
