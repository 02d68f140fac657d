// Package audittrail wires the audit trail's functions (the shipper fed by the audit table's stream,
// the hourly digest), its validator and its automated review.
package audittrail

import (
	"io"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/ops/auditreview"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
	"github.com/vaultbill/vaultbill/shared/wiring"
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

// BuildShipper is the shipper function's cold start. Lambda sends SIGTERM before it ends an
// environment: what is pending is flushed then.
func BuildShipper(env wiring.Env) (wiring.Handler, error) {
	s, err := Shipper(env)
	if err != nil {
		return wiring.Handler{}, err
	}
	return wiring.Handler{Func: s.Handle, Options: []lambda.Option{lambda.WithEnableSIGTERM(s.Close)}}, nil
}

// Ledger is where the shipper records each log file's version and hash for the digester: the audit
// table, beside the outbox records.
func Ledger(env wiring.Env) audittrail.Ledger {
	return audittrail.TableLedger{DB: dynamodb.NewFromConfig(env.AWS), Table: env.Config.AuditTable}
}

// Digest builds the hourly digest function.
func Digest(env wiring.Env) (*audittrail.Hourly, error) {
	if err := env.Config.Require(config.EnvAuditBucket, config.EnvAuditSigningKey, config.EnvAuditTable); err != nil {
		return nil, err
	}
	review, err := Review(env, DigestName)
	if err != nil {
		return nil, err
	}
	s3api := s3client.New(env.AWS)
	return &audittrail.Hourly{
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

// BuildDigest is the digest function's cold start.
func BuildDigest(env wiring.Env) (wiring.Handler, error) {
	d, err := Digest(env)
	return wiring.Handler{Func: d.Handle}, err
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
