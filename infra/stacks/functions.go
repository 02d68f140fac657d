package stacks

import (
	"strconv"
	"time"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Permission is one thing a function may touch. Each is granted by exactly one method of the API stack
// (grant.go), which also sets the environment variables naming what it grants.
type Permission string

// The permissions. Their text is what docs/compliance.md and the template tests call them.
const (
	// AppendAudit: dynamodb:PutItem on the audit table (an outbox: no update, no delete).
	AppendAudit Permission = "append to the audit table"
	// Idempotency: get/put/delete only items whose partition key starts with IDEM# in the billing table.
	Idempotency Permission = "idempotency records in the billing table"
	// CountCardAttempts: dynamodb:UpdateItem only on items whose partition key starts with RATE# in the
	// billing table (shared/adapters/ratelimit's counters). Payments has it through ReadWriteBilling.
	CountCardAttempts Permission = "card-attempt counters in the billing table"
	// ReadWriteBilling: read and write items of the billing table and query its indexes.
	ReadWriteBilling Permission = "read and write the billing table"
	// ReadBilling: read items of the billing table and query its indexes.
	ReadBilling Permission = "read the billing table"
	// ReadWriteVault: read and write card tokens in the vault table.
	ReadWriteVault Permission = "read and write the vault table"
	// ReadVault: get one card token from the vault table (shared/adapters/vault Reveal reads by key only).
	ReadVault Permission = "get card tokens from the vault table"
	// SealCards: kms:GenerateDataKey on the vault key for the card-data and card-fingerprint purposes,
	// kms:Decrypt for card-fingerprint only (shared/adapters/vault never opens a card in tokens).
	SealCards Permission = "generate card data keys, generate and unwrap the fingerprint key (vault key)"
	// OpenCards: kms:Decrypt on the vault key for the card-data purpose only.
	OpenCards Permission = "unwrap card data keys (vault key)"
	// QueryAudit: dynamodb:Query on the audit table's by-time index only.
	QueryAudit Permission = "query the audit table's by-time index"
	// StreamAudit: read the audit table's stream (event source mapping).
	StreamAudit Permission = "read the audit table stream"
	// ShipAuditLogs: s3:PutObject under AWSLogs/<account>/CloudTrail/ in the audit bucket, and
	// dynamodb:PutItem of the audit table's ledger items (each file's version and hash).
	ShipAuditLogs Permission = "put log files under AWSLogs/<account>/CloudTrail/ in the audit bucket, record them in the audit table"
	// ReadAuditLogs: get and list objects and their versions under AWSLogs/<account>/ in the audit
	// bucket, and dynamodb:BatchGetItem of the audit table's ledger items.
	ReadAuditLogs Permission = "read and list AWSLogs/<account>/ (with versions) in the audit bucket, read the file records in the audit table"
	// WriteDigests: s3:PutObject under AWSLogs/<account>/CloudTrail-Digest/ in the audit bucket.
	WriteDigests Permission = "put digest files under AWSLogs/<account>/CloudTrail-Digest/ in the audit bucket"
	// SignDigests: kms:Sign (RSASSA_PKCS1_V1_5_SHA_256, raw messages) and kms:GetPublicKey on the
	// audit-signing key. Neither call carries an encryption context.
	SignDigests Permission = "sign digests (audit-signing key)"
	// PublishAlerts: sns:Publish on the encrypted alerts topic (the audit trail's automated review).
	PublishAlerts Permission = "publish to the alerts topic"
	// BackupTables: scan, describe and natively back up every table; list native backups and delete
	// the tables' own.
	BackupTables Permission = "scan and back up every table, prune native backups"
	// SealBackups: kms:GenerateDataKey on the backup key, for the backup purpose only.
	SealBackups Permission = "generate backup data keys (backup key)"
	// WriteBackups: put, delete and list objects under backups/ in the backup bucket.
	WriteBackups Permission = "put, delete and list objects under backups/ in the backup bucket"
	// ReadBackups: get and list objects under backups/ in the backup bucket.
	ReadBackups Permission = "read and list backups/ in the backup bucket"
	// WriteInvoiceLinks: dynamodb:PutItem only on items whose partition key starts with LINK# in the
	// billing table (shared/adapters/hostedlink's hashed links).
	WriteInvoiceLinks Permission = "put invoice links in the billing table"
	// OpenBackups: kms:Decrypt on the backup key, for the backup purpose only.
	OpenBackups Permission = "unwrap backup data keys (backup key)"
	// RestoreTestTables: create, describe, write, scan and delete only tables named
	// vaultbill-restore-test-*, encrypted under the data or vault key like the originals.
	RestoreTestTables Permission = "create, write, scan and delete vaultbill-restore-test-* tables"
	// NameTables: the live tables' names (configuration only, no IAM).
	NameTables Permission = "the names of the live tables (no access)"
	// CheckVaultKey: kms:Decrypt on the vault key for the restore-canary purpose only, to prove the key
	// still decrypts the canary data key of the vault backup (never a card data key).
	CheckVaultKey Permission = "decrypt the vault backup's canary data key (vault key)"
	// SealVaultCanary: kms:GenerateDataKeyWithoutPlaintext on the vault key for the restore-canary
	// purpose only: the canary each vault backup carries.
	SealVaultCanary Permission = "generate the vault backup's canary data key (vault key)"
	// ReadCheckpoints: s3:GetObject under backups/ in the backup bucket, for the checkpoints a backup
	// continues from (and the manifests of the tables it finished).
	ReadCheckpoints Permission = "read checkpoints under backups/ in the backup bucket"
	// ContinueSelf: lambda:InvokeFunction on the function itself only, to continue a run past one
	// invocation (shared/ops/backup continuation).
	ContinueSelf Permission = "invoke itself to continue a run"
	// VerifyTokens: the Cognito issuer and JWKS URL (configuration only, no IAM).
	VerifyTokens Permission = "Cognito issuer, audience and JWKS URL"
	// ReadSessionEpochs: dynamodb:GetItem only on items whose partition key starts with SESSION# in the
	// billing table (shared/adapters/sessions): the authorizer refuses tokens issued before a user's epoch.
	ReadSessionEpochs Permission = "read session epochs in the billing table"
	// RevokeSessions: dynamodb:UpdateItem only on SESSION# items of the billing table.
	RevokeSessions Permission = "write session epochs in the billing table"
	// AdministerUsers: the user pool actions of shared/adapters/userpool.AdminActions on the user pool only.
	AdministerUsers Permission = "administer the user pool's users and groups"
	// SealCustomerData: kms:GenerateDataKey and kms:Decrypt on the data key for the customer-data
	// purpose only: each customer's own data key (shared/adapters/customerkeys).
	SealCustomerData Permission = "generate and unwrap customer data keys (data key)"
	// OpenCustomerData: kms:Decrypt on the data key for the customer-data purpose only.
	OpenCustomerData Permission = "unwrap customer data keys (data key)"
	// RecordErasures: s3:PutObject under erasures/ in the backup bucket (the erasure ledger).
	RecordErasures Permission = "put erasure ledger entries under erasures/ in the backup bucket"
)

// Trigger is what invokes a function other than the REST API.
type Trigger string

// Triggers.
const (
	API          Trigger = "REST API"
	APIAuthorize Trigger = "REST API authorizer"
	AuditStream  Trigger = "audit table stream"
	Hourly       Trigger = "hourly schedule"
	Daily        Trigger = "daily schedule (03:00 UTC)"
	Weekly       Trigger = "weekly schedule (Sunday 05:00 UTC)"

	// WAFBlocks is the WAF log group's subscription filter: the requests the web ACL blocked.
	WAFBlocks Trigger = "WAF log subscription (blocked requests)"
)

// Function is one row of the function table.
type Function struct {
	Name string
	// MemoryMB and Timeout size the function; Reserved caps its concurrency (0: no reservation) where
	// a cap protects a downstream (KMS request quotas, the payment processor, the audit bucket).
	MemoryMB int
	Timeout  time.Duration
	Reserved int
	Trigger  Trigger
	// Touches is everything the function may touch; nothing else is granted.
	Touches []Permission
	// Settings are environment variables that configure the function's code and grant nothing.
	Settings map[string]string
}

// MaxBackupAge is the age of a table's newest backup that raises an alarm (the restore test fails it as stale too).
const MaxBackupAge = resources.MaxBackupAge

// RestoreTestTablePrefix is the only table name prefix the restore test may create or delete.
const RestoreTestTablePrefix = resources.RestoreTestTablePrefix

// apiTouches is what every API function needs from the shared runtime (shared/api/endpoint).
var apiTouches = []Permission{AppendAudit, Idempotency}

// EnvPaymentProcessor names the payments function's card processor; "sandbox" decides by test card
// number and moves no money.
const EnvPaymentProcessor = resources.EnvPaymentProcessor

// BackupRetentionDays is how long the backup function keeps its exports and native backups
// (BACKUP_RETENTION_DAYS), the same as the AWS Backup recovery points.
const BackupRetentionDays = resources.BackupRetentionDays

// The audit shipper's stream source and timeout. The timeout must stay under audittrail.DefaultLag: a
// log file is named for the minute its write starts, and the digest covering that minute lists the
// bucket DefaultLag later, so every write must be over by then. (The batching window passes before
// the invocation starts and does not count.)
const (
	ShipperBatchSize      = 1000
	ShipperBatchingWindow = time.Minute
	ShipperTimeout        = 2 * time.Minute
)

// Functions is the function table: every Lambda function of the application.
var Functions = []Function{
	{Name: "authorizer", MemoryMB: 256, Timeout: 10 * time.Second, Trigger: APIAuthorize,
		Touches: []Permission{AppendAudit, VerifyTokens, ReadSessionEpochs}},
	{Name: routes.Me, MemoryMB: 256, Timeout: 10 * time.Second, Trigger: API,
		Touches: apiTouches},
	{Name: routes.Invoices, MemoryMB: 512, Timeout: 15 * time.Second, Trigger: API,
		Touches: append([]Permission{ReadWriteBilling, SealCustomerData}, apiTouches...)},
	// tokens and payments unwrap customer keys (never make one): cardholder names are sealed under them.
	{Name: routes.Tokens, MemoryMB: 512, Timeout: 15 * time.Second, Reserved: 20, Trigger: API,
		Touches: append([]Permission{ReadBilling, CountCardAttempts, ReadWriteVault, SealCards, OpenCustomerData}, apiTouches...)},
	{Name: routes.Payments, MemoryMB: 512, Timeout: 30 * time.Second, Reserved: 20, Trigger: API,
		Touches: append([]Permission{ReadWriteBilling, ReadVault, OpenCards, OpenCustomerData}, apiTouches...)},
	// credit-notes refunds through the card processor by charge id: the billing table, no vault.
	{Name: routes.CreditNotes, MemoryMB: 512, Timeout: 30 * time.Second, Reserved: 20, Trigger: API,
		Touches: append([]Permission{ReadWriteBilling}, apiTouches...)},
	// users administers the pool; it reads the billing table only to check a customer user's customer.
	{Name: routes.Users, MemoryMB: 256, Timeout: 15 * time.Second, Reserved: 5, Trigger: API,
		Touches: append([]Permission{AdministerUsers, ReadBilling, RevokeSessions}, apiTouches...)},
	// hosted-page serves the invoice page and makes its links: it reads invoices, never a card.
	{Name: routes.HostedPage, MemoryMB: 256, Timeout: 10 * time.Second, Trigger: API,
		Touches: append([]Permission{ReadBilling, WriteInvoiceLinks}, apiTouches...)},
	// data-rights exports a customer's data: customer keys (unwrap only), billing and vault tables (no vault key use but the table's).
	{Name: routes.DataRights, MemoryMB: 512, Timeout: 30 * time.Second, Reserved: 5, Trigger: API,
		Touches: append([]Permission{ReadWriteBilling, OpenCustomerData, ReadWriteVault, RecordErasures}, apiTouches...)},
	{Name: routes.AuditQuery, MemoryMB: 512, Timeout: 15 * time.Second, Reserved: 10, Trigger: API,
		Touches: append([]Permission{QueryAudit}, apiTouches...)},
	{Name: "audit-shipper", MemoryMB: 512, Timeout: ShipperTimeout, Reserved: 5, Trigger: AuditStream,
		Touches: []Permission{StreamAudit, ShipAuditLogs, PublishAlerts}},
	{Name: "audit-digest", MemoryMB: 512, Timeout: 5 * time.Minute, Reserved: 1, Trigger: Hourly,
		// QueryAudit and ShipAuditLogs: each run first ships the outbox records the stream dropped.
		Touches: []Permission{SignDigests, ReadAuditLogs, WriteDigests, QueryAudit, ShipAuditLogs, PublishAlerts}},
	// waf-audit records the requests the web ACL blocked, which never reach another function. Its own
	// function rather than a second trigger of one: it needs nothing but AppendAudit.
	{Name: "waf-audit", MemoryMB: 256, Timeout: 30 * time.Second, Reserved: 2, Trigger: WAFBlocks,
		Touches: []Permission{AppendAudit}},
	{Name: "backup", MemoryMB: 1024, Timeout: 15 * time.Minute, Reserved: 1, Trigger: Daily,
		Touches:  []Permission{BackupTables, SealBackups, SealVaultCanary, WriteBackups, AppendAudit, ReadCheckpoints, OpenBackups, ContinueSelf},
		Settings: map[string]string{config.EnvBackupRetentionDays: strconv.Itoa(BackupRetentionDays)}},
	// page-check fetches the live hosted invoice page over HTTPS; it touches no AWS resource.
	{Name: PageCheck, MemoryMB: 256, Timeout: 30 * time.Second, Reserved: 1, Trigger: Weekly},
	{Name: "restore-test", MemoryMB: 1024, Timeout: 15 * time.Minute, Reserved: 1, Trigger: Weekly,
		Touches: []Permission{RestoreTestTables, NameTables, ReadBackups, OpenBackups, CheckVaultKey, AppendAudit, ContinueSelf}},
}

// FunctionNames lists the function table's names, in order.
func FunctionNames() []string {
	out := make([]string, len(Functions))
	for i, f := range Functions {
		out[i] = f.Name
	}
	return out
}
