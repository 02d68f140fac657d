package resources

import (
	"fmt"
	"time"
)

// The names below are the contract between the deployed infrastructure and the code that runs in it.
// The CDK app writes them into IAM conditions, environment variables, alarms and log filters; the
// runtime packages that use them refer to these definitions, so the two cannot drift apart.

// Partition key prefixes of items a function may touch only under its prefix (the IAM condition
// dynamodb:LeadingKeys of its grant).
const (
	// IdempotencyKeyPrefix starts the billing table's idempotency records (shared/adapters/idempotency).
	IdempotencyKeyPrefix = "IDEM#"
	// RateLimitKeyPrefix starts the billing table's card-attempt counters (shared/adapters/ratelimit).
	RateLimitKeyPrefix = "RATE#"
	// LinkKeyPrefix starts the billing table's hosted invoice links (shared/adapters/hostedlink).
	LinkKeyPrefix = "LINK#"
	// SessionKeyPrefix starts the billing table's session epochs (shared/adapters/sessions).
	SessionKeyPrefix = "SESSION#"
	// AuditLedgerKeyPrefix starts the audit table's ledger items, one per written log file
	// (shared/ops/audittrail).
	AuditLedgerKeyPrefix = "logfile#"
)

// Object key prefixes a function may touch only under its prefix (the resource of its grant).
const (
	// BackupsPrefix holds the backup bucket's exports, checkpoints and manifests (shared/ops/backup).
	BackupsPrefix = "backups/"
	// ErasuresPrefix holds the backup bucket's erasure ledger (shared/adapters/erasures).
	ErasuresPrefix = "erasures/"
	// TrailPrefix starts every object of the audit bucket's trail: AWSLogs/<account>/<service>/...,
	// as CloudTrail lays them out (shared/ops/audittrail).
	TrailPrefix = "AWSLogs/"
	// TrailService and TrailDigestService name the audit bucket's log files and digest files under
	// TrailPrefix<account>/, as CloudTrail names them.
	TrailService       = "CloudTrail"
	TrailDigestService = "CloudTrail-Digest"
)

// EncryptionContextPurpose is the encryption context key every direct KMS call of the application
// carries; each key's policy allows a function only the purposes (its values) it needs.
const EncryptionContextPurpose = "vaultbill:purpose"

// Purposes: the values of EncryptionContextPurpose.
const (
	// PurposeCardData seals card numbers under the vault key (shared/adapters/vault).
	PurposeCardData = "card-data"
	// PurposeFingerprint wraps the card fingerprint key under the vault key (shared/adapters/vault).
	PurposeFingerprint = "card-fingerprint"
	// PurposeBackup wraps backup data keys under the backup key (shared/ops/backup).
	PurposeBackup = "backup"
	// PurposeCanary wraps a vault backup's canary data key under the vault key: the restore test may
	// unwrap it, never a card data key (shared/ops/backup).
	PurposeCanary = "restore-canary"
	// PurposeCustomerData wraps each customer's own data key under the data key (shared/adapters/customerkeys).
	PurposeCustomerData = "customer-data"
)

// CloudWatch metrics the functions emit (EMF) and the alarms watch.
const (
	// AuditMetricNamespace holds the audit trail's metrics: the automated review's and the audit writer's.
	AuditMetricNamespace = "Vaultbill/Audit"
	// MetricCardNumbersMasked counts card numbers the audit writer's last check masked (shared/adapters/audit).
	MetricCardNumbersMasked = "CardNumbersMasked"
	// MetricAuditAlerts counts the automated review's alerts, by function and rule (shared/ops/auditreview).
	MetricAuditAlerts = "Alerts"
	// MetricAuditPipelineFailures counts failures to ship, decode or digest the audit trail.
	MetricAuditPipelineFailures = "AuditPipelineFailures"

	// BackupMetricNamespace holds the backup and restore test metrics, by table (shared/ops/backup).
	BackupMetricNamespace    = "Vaultbill/Backup"
	MetricBackupSuccess      = "BackupSuccess"
	MetricRestoreTestSuccess = "RestoreTestSuccess"
	MetricBackupAge          = "BackupAge"
)

// Rule names of the audit trail's automated review (shared/ops/auditreview), as its alerts and
// metrics carry them; each has an alarm.
const (
	RuleAuthFailures   = "authorization-failures"
	RuleCardDataDenied = "card-data-access-denied"
	RuleDetokenize     = "detokenization-volume"
	RuleNoMFA          = "request-without-mfa"
	RulePipeline       = "audit-pipeline-failure"
	// RuleCardAttempts, RuleCardFailures and RuleCardThrottled catch card enumeration and card testing
	// by one principal: many tokenize or pay attempts, many refused card numbers, or any throttled one.
	RuleCardAttempts  = "card-attempt-volume"
	RuleCardFailures  = "card-validation-failures"
	RuleCardThrottled = "card-attempts-throttled"
	// RulePrivilegeElevation fires on every successful grant of the admin role (PCI DSS 10.2.1.5).
	RulePrivilegeElevation = "privilege-elevation"
)

// Environment variables the CDK app sets that are not a resource's name (those are shared/api/config's).
const (
	// EnvAuditAlertTopicARN is the topic the automated review publishes its alerts to.
	EnvAuditAlertTopicARN = "AUDIT_ALERT_TOPIC_ARN"
	// EnvPageCheckURL is the page the scheduled page check fetches (the API's URL + PageCheckPath).
	EnvPageCheckURL = "PAGE_CHECK_URL"
	// EnvPaymentProcessor names the card processor of the functions that charge and refund (payments,
	// credit-notes): SandboxProcessor (the default) decides by test card number and moves no money.
	EnvPaymentProcessor = "PAYMENT_PROCESSOR"
	// EnvStage is the deployment stage the CDK app declares on those functions: StageTest or
	// StageProduction. The local stack sets none.
	EnvStage = "STAGE"
)

// Log lines the CDK app's metric filters count: the authorizer's refusals, one line each, which the
// denial alarm sums (shared/handlers/authorizer).
const (
	// LogTokenRejected is the message of a refused token (401).
	LogTokenRejected = "token rejected"
	// LogRequestDenied is the message of a request the role or MFA rule denies (403).
	LogRequestDenied = "request denied"
)

// Stages of a deployment.
const (
	StageTest       = "test"
	StageProduction = "production"
)

// SandboxProcessor is the EnvPaymentProcessor value of the sandbox processor.
const SandboxProcessor = "sandbox"

// CheckProcessorStage refuses the sandbox processor (name "" or SandboxProcessor) where the stage is
// production: it approves 4242... and moves no money, so every invoice paid with it would be paid for
// free. The CDK app runs it at synth, and the functions again at cold start, so neither a mistaken
// deploy nor a changed environment variable can take real payments with it. An empty stage is the
// local stack's; an unknown one is refused, so a misspelt "production" cannot pass as a test.
func CheckProcessorStage(name, stage string) error {
	switch stage {
	case "", StageTest, StageProduction:
	default:
		return fmt.Errorf("%s=%q is not a stage; use %s or %s", EnvStage, stage, StageTest, StageProduction)
	}
	if stage == StageProduction && (name == "" || name == SandboxProcessor) {
		return fmt.Errorf("%s=%s with the %s card processor (%s): the sandbox moves no money and must never take payments in production; configure a real processor, or declare a test stage (%s=%s)",
			EnvStage, stage, SandboxProcessor, EnvPaymentProcessor, EnvStage, StageTest)
	}
	return nil
}

// Backups.
const (
	// BackupRetentionDays keeps five weeks of daily backups (exports and native backups).
	BackupRetentionDays = 35
	// MaxBackupAge is how old the newest backup may be before the restore test fails it as stale and
	// its alarm fires.
	MaxBackupAge = 48 * time.Hour
	// RestoreTestTablePrefix starts every scratch table's name, locally and in AWS, so IAM can allow the
	// restore test to create and delete those tables and no others.
	RestoreTestTablePrefix = "vaultbill-restore-test-"
)

// AuditStreamMaxRecordAge is the audit stream's event source mapping MaximumRecordAge: the stream gives
// up a record older than this (and its retries end sooner, 10 of them); the digest's reconciliation
// ships what it gave up (shared/ops/audittrail).
const AuditStreamMaxRecordAge = time.Hour

// PageCheckPath is the hosted page the scheduled page check fetches: a link that is never issued (too
// short to be one), so the answer is the refusal page, which has the same headers, script and
// stylesheet as every invoice page and needs no invoice (shared/handlers/hostedpage).
const PageCheckPath = "/pay/page-check"
