// Package auditops builds the audit trail's functions (shipper, digest, validator) and its automated
// review from a function's environment.
package auditops

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/ops/auditreview"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
)

// Function names of the audit trail's background functions.
const (
	ShipperName = "audit-shipper"
	DigestName  = "audit-digest"
)

// Location is where the trail's files live.
func Location(env wiring.Env) audittrail.Location {
	return audittrail.Location{Bucket: env.Config.AuditBucket, Account: env.Config.Account, Region: env.Config.Region}
}

// Review builds the automated review: its thresholds from the environment, alerts to SNS when a
// topic is configured (the log otherwise), metrics to env.Metrics.
func Review(env wiring.Env, function string) (*auditreview.Engine, error) {
	rc, err := auditreview.ConfigFrom(env.Config.Lookup)
	if err != nil {
		return nil, err
	}
	var pub auditreview.Publisher = auditreview.LogPublisher{Log: env.Log}
	if rc.TopicARN != "" {
		pub = auditreview.SNSPublisher{API: sns.NewFromConfig(env.AWS), TopicARN: rc.TopicARN}
	}
	metrics := env.Metrics
	if metrics == nil {
		metrics = io.Discard
	}
	return &auditreview.Engine{Config: rc, Publisher: pub, Metrics: metrics, Function: function, Log: env.Log}, nil
}

// Shipper builds the shipper fed by the audit table's stream.
func Shipper(env wiring.Env) (*audittrail.Shipper, error) {
	if err := env.Config.Require(config.EnvAuditBucket, config.EnvAuditTable); err != nil {
		return nil, err
	}
	review, err := Review(env, ShipperName)
	if err != nil {
		return nil, err
	}
	return &audittrail.Shipper{S3: s3client.New(env.AWS), Location: Location(env), Observer: review, Ledger: Ledger(env), Log: env.Log,
		Alert: &audit.Alerter{Log: env.Log, Metrics: env.Metrics}}, nil
}

// Ledger is where the shipper records each log file's version and hash for the digester: the audit
// table, beside the outbox records.
func Ledger(env wiring.Env) audittrail.Ledger {
	return audittrail.TableLedger{DB: dynamodb.NewFromConfig(env.AWS), Table: env.Config.AuditTable}
}

// Digest is the scheduled digest function. Each run first reconciles the outbox with the log files,
// shipping what the stream dropped, so the digest covers it.
type Digest struct {
	Digester   *audittrail.Digester
	Reconciler *audittrail.Reconciler
	Review     *auditreview.Engine
	// Now is the clock (the local stack simulates hours with it).
	Clock clock.Func
}

// NewDigest builds the digest function.
func NewDigest(env wiring.Env) (*Digest, error) {
	if err := env.Config.Require(config.EnvAuditBucket, config.EnvAuditSigningKey, config.EnvAuditTable); err != nil {
		return nil, err
	}
	review, err := Review(env, DigestName)
	if err != nil {
		return nil, err
	}
	s3api := s3client.New(env.AWS)
	return &Digest{
		Digester: &audittrail.Digester{
			S3: s3api, KMS: kms.NewFromConfig(env.AWS), KeyID: env.Config.AuditSigningKeyID,
			Location: Location(env), Ledger: Ledger(env), Log: env.Log,
		},
		Reconciler: &audittrail.Reconciler{
			DB: dynamodb.NewFromConfig(env.AWS), Table: env.Config.AuditTable, S3: s3api, Ledger: Ledger(env), Location: Location(env),
			// The records it ships were never reviewed as they streamed: the review sees them now.
			Shipper: &audittrail.Shipper{S3: s3api, Location: Location(env), Observer: review, Ledger: Ledger(env), Log: env.Log},
		},
		Review: review,
	}, nil
}

// Handle runs on the hourly schedule. It covers the time since the last digest, so a late or
// retried run loses nothing. A failure alerts and is returned, so the scheduler retries.
func (a *Digest) Handle(ctx context.Context, _ events.EventBridgeEvent) (audittrail.DigestResult, error) {
	now := a.Clock.Now
	defer a.Review.Flush(ctx)
	var recErr error
	if a.Reconciler != nil {
		a.Reconciler.Shipper.Clock = now
		rec, err := a.Reconciler.Run(ctx, now())
		switch {
		case err != nil:
			recErr = fmt.Errorf("audit reconcile: %w", err)
			a.Review.Failed(ctx, audittrail.StageReconcile, recErr)
		case rec.Shipped > 0:
			// Loud even though repaired: the stream lost these records, which must not happen silently.
			a.Review.Failed(ctx, audittrail.StageReconcile, fmt.Errorf("%d audit records (the oldest from %s) were in no log file after %s; shipped them now",
				rec.Shipped, rec.Oldest, audittrail.DefaultGrace))
		}
	}
	res, err := a.Digester.Run(ctx, now())
	if err != nil {
		a.Review.Failed(ctx, audittrail.StageDigest, err)
		return res, fmt.Errorf("audit digest: %w", err)
	}
	for _, t := range res.Tampered {
		// Written into the digest as the shipper wrote it; alerted now rather than at the next validation.
		a.Review.Failed(ctx, audittrail.StageDigest, fmt.Errorf("audit log file tampered with before its digest: %s", t))
	}
	return res, recErr
}

// Validator builds the validator for the trail's bucket and signing key.
func Validator(env wiring.Env) (*audittrail.Validator, error) {
	if err := env.Config.Require(config.EnvAuditBucket, config.EnvAuditSigningKey); err != nil {
		return nil, err
	}
	return &audittrail.Validator{
		S3: s3client.New(env.AWS), KMS: kms.NewFromConfig(env.AWS),
		KeyIDs: []string{env.Config.AuditSigningKeyID}, Location: Location(env),
	}, nil
}
