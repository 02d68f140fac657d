package wiring

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/vaultbill/vaultbill/shared/auditquery"
	"github.com/vaultbill/vaultbill/shared/auditreview"
	"github.com/vaultbill/vaultbill/shared/audittrail"
	"github.com/vaultbill/vaultbill/shared/awsconfig"
	"github.com/vaultbill/vaultbill/shared/config"
	"github.com/vaultbill/vaultbill/shared/endpoint"
)

// Function names of the audit trail's background functions.
const (
	AuditShipperFunction = "audit-shipper"
	AuditDigestFunction  = "audit-digest"
)

func auditQuery(env Env, svc *endpoint.Service) error {
	auditquery.Register(svc, &auditquery.Store{DB: dynamodb.NewFromConfig(env.AWS), Table: env.Config.AuditTable})
	return nil
}

// AuditLocation is where the trail's files live.
func AuditLocation(env Env) audittrail.Location {
	return audittrail.Location{Bucket: env.Config.AuditBucket, Account: env.Config.Account, Region: env.Config.Region}
}

// AuditReview builds the automated review: its thresholds from the environment, alerts to SNS when a
// topic is configured (the log otherwise), metrics to env.Metrics.
func AuditReview(env Env, function string) (*auditreview.Engine, error) {
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

// AuditShipper builds the shipper fed by the audit table's stream.
func AuditShipper(env Env) (*audittrail.Shipper, error) {
	if err := env.Config.Require(config.EnvAuditBucket); err != nil {
		return nil, err
	}
	review, err := AuditReview(env, AuditShipperFunction)
	if err != nil {
		return nil, err
	}
	return &audittrail.Shipper{S3: awsconfig.S3(env.AWS), Location: AuditLocation(env), Observer: review, Log: env.Log}, nil
}

// AuditDigest is the scheduled digest function.
type AuditDigest struct {
	Digester *audittrail.Digester
	Review   *auditreview.Engine
	// Now is the clock (the local stack simulates hours with it).
	Now func() time.Time
}

// BuildAuditDigest builds the digest function.
func BuildAuditDigest(env Env) (*AuditDigest, error) {
	if err := env.Config.Require(config.EnvAuditBucket, config.EnvAuditSigningKey); err != nil {
		return nil, err
	}
	review, err := AuditReview(env, AuditDigestFunction)
	if err != nil {
		return nil, err
	}
	return &AuditDigest{
		Digester: &audittrail.Digester{
			S3: awsconfig.S3(env.AWS), KMS: kms.NewFromConfig(env.AWS), KeyID: env.Config.AuditSigningKeyID,
			Location: AuditLocation(env), Log: env.Log,
		},
		Review: review,
	}, nil
}

// Handle runs on the hourly schedule. It covers the time since the last digest, so a late or
// retried run loses nothing. A failure alerts and is returned, so the scheduler retries.
func (a *AuditDigest) Handle(ctx context.Context, _ events.EventBridgeEvent) (audittrail.DigestResult, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	defer a.Review.Flush(ctx)
	res, err := a.Digester.Run(ctx, now())
	if err != nil {
		a.Review.Failed(ctx, audittrail.StageDigest, err)
		return res, fmt.Errorf("audit digest: %w", err)
	}
	return res, nil
}

// AuditValidator builds the validator for the trail's bucket and signing key.
func AuditValidator(env Env) (*audittrail.Validator, error) {
	if err := env.Config.Require(config.EnvAuditBucket, config.EnvAuditSigningKey); err != nil {
		return nil, err
	}
	return &audittrail.Validator{
		S3: awsconfig.S3(env.AWS), KMS: kms.NewFromConfig(env.AWS),
		KeyIDs: []string{env.Config.AuditSigningKeyID}, Location: AuditLocation(env),
	}, nil
}
