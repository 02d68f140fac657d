package stacks

import (
	"time"

	"github.com/vaultbill/vaultbill/shared/routes"
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
	// ReadWriteBilling: read and write items of the billing table and query its indexes.
	ReadWriteBilling Permission = "read and write the billing table"
	// ReadBilling: read items of the billing table and query its indexes.
	ReadBilling Permission = "read the billing table"
	// ReadWriteVault: read and write card tokens in the vault table.
	ReadWriteVault Permission = "read and write the vault table"
	// ReadVault: read card tokens from the vault table.
	ReadVault Permission = "read the vault table"
	// SealCards: kms:GenerateDataKey and kms:Decrypt on the vault key, with an encryption context.
	SealCards Permission = "generate and unwrap card data keys (vault key)"
	// OpenCards: kms:Decrypt on the vault key, with an encryption context.
	OpenCards Permission = "unwrap card data keys (vault key)"
	// QueryAudit: read the audit table and query its by-time index.
	QueryAudit Permission = "read the audit table"
	// StreamAudit: read the audit table's stream (event source mapping).
	StreamAudit Permission = "read the audit table stream"
	// ShipAuditLogs: s3:PutObject under AWSLogs/ in the audit bucket.
	ShipAuditLogs Permission = "put objects under AWSLogs/ in the audit bucket"
	// ReadAuditLogs: get and list objects under AWSLogs/ in the audit bucket.
	ReadAuditLogs Permission = "read and list AWSLogs/ in the audit bucket"
	// SignDigests: kms:Sign and kms:GetPublicKey on the audit-signing key.
	SignDigests Permission = "sign digests (audit-signing key)"
	// BackupTables: read every table (scan, describe, export metadata) and dynamodb:CreateBackup.
	BackupTables Permission = "read and back up every table"
	// SealBackups: kms:GenerateDataKey on the backup key, with an encryption context.
	SealBackups Permission = "generate backup data keys (backup key)"
	// WriteBackups: s3:PutObject under backups/ in the backup bucket.
	WriteBackups Permission = "put objects under backups/ in the backup bucket"
	// ReadBackups: get and list objects of the backup bucket.
	ReadBackups Permission = "read the backup bucket"
	// OpenBackups: kms:Decrypt on the backup key, with an encryption context.
	OpenBackups Permission = "unwrap backup data keys (backup key)"
	// RestoreTestTables: create, describe, write and delete only tables named vaultbill-restore-test-*.
	RestoreTestTables Permission = "create, write and delete vaultbill-restore-test-* tables"
	// CheckVaultKey: kms:Decrypt on the vault key, to prove a restored card still opens.
	CheckVaultKey Permission = "decrypt with the vault key (restore key check)"
	// VerifyTokens: the Cognito issuer and JWKS URL (configuration only, no IAM).
	VerifyTokens Permission = "Cognito issuer, audience and JWKS URL"
)

// Trigger is what invokes a function other than the REST API.
type Trigger string

// Triggers.
const (
	API          Trigger = "REST API"
	APIAuthorize Trigger = "REST API authorizer"
	AuditStream  Trigger = "audit table stream"
	Hourly       Trigger = "hourly schedule"
	Daily        Trigger = "daily schedule"
	Weekly       Trigger = "weekly schedule"
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
}

// RestoreTestTablePrefix is the only table name prefix the restore test may create or delete.
const RestoreTestTablePrefix = "vaultbill-restore-test-"

// apiTouches is what every API function needs from the shared runtime (shared/endpoint).
var apiTouches = []Permission{AppendAudit, Idempotency}

// Functions is the function table: every Lambda function of the application.
var Functions = []Function{
	{Name: "authorizer", MemoryMB: 256, Timeout: 10 * time.Second, Trigger: APIAuthorize,
		Touches: []Permission{AppendAudit, VerifyTokens}},
	{Name: routes.Me, MemoryMB: 256, Timeout: 10 * time.Second, Trigger: API,
		Touches: apiTouches},
	{Name: routes.Invoices, MemoryMB: 512, Timeout: 15 * time.Second, Trigger: API,
		Touches: append([]Permission{ReadWriteBilling}, apiTouches...)},
	{Name: routes.Tokens, MemoryMB: 512, Timeout: 15 * time.Second, Reserved: 20, Trigger: API,
		Touches: append([]Permission{ReadBilling, ReadWriteVault, SealCards}, apiTouches...)},
	{Name: routes.Payments, MemoryMB: 512, Timeout: 30 * time.Second, Reserved: 20, Trigger: API,
		Touches: append([]Permission{ReadWriteBilling, ReadVault, OpenCards}, apiTouches...)},
	{Name: routes.AuditQuery, MemoryMB: 512, Timeout: 15 * time.Second, Reserved: 10, Trigger: API,
		Touches: append([]Permission{QueryAudit}, apiTouches...)},
	{Name: "audit-shipper", MemoryMB: 512, Timeout: time.Minute, Reserved: 5, Trigger: AuditStream,
		Touches: []Permission{StreamAudit, ShipAuditLogs}},
	{Name: "audit-digest", MemoryMB: 512, Timeout: 5 * time.Minute, Reserved: 1, Trigger: Hourly,
		Touches: []Permission{SignDigests, ReadAuditLogs, ShipAuditLogs}},
	{Name: "backup", MemoryMB: 1024, Timeout: 15 * time.Minute, Reserved: 1, Trigger: Daily,
		Touches: []Permission{BackupTables, SealBackups, WriteBackups}},
	{Name: "restore-test", MemoryMB: 1024, Timeout: 15 * time.Minute, Reserved: 1, Trigger: Weekly,
		Touches: []Permission{RestoreTestTables, ReadBackups, OpenBackups, CheckVaultKey}},
}

// FunctionNames lists the function table's names, in order.
func FunctionNames() []string {
	out := make([]string, len(Functions))
	for i, f := range Functions {
		out[i] = f.Name
	}
	return out
}
