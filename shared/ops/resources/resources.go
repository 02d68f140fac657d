// Package resources defines Vaultbill's stateful AWS resources (tables, keys, buckets) once, so the
// local provisioner and the CDK app create the same key schemas, indexes and streams, and the names
// the deployed infrastructure and the runtime share (contract.go). It imports nothing of ours.
package resources

// AttrType is a DynamoDB key attribute type.
type AttrType string

// Key attribute types.
const (
	String AttrType = "S"
	Number AttrType = "N"
)

// Attr is a key attribute.
type Attr struct {
	Name string
	Type AttrType
}

// Index is a global secondary index projecting all attributes.
type Index struct {
	Name     string
	HashKey  Attr
	RangeKey Attr
}

// Table is a DynamoDB table definition.
type Table struct {
	// ID is the logical name: the CDK construct id, the local table suffix and the env var prefix.
	ID       string
	HashKey  Attr
	RangeKey Attr
	Indexes  []Index
	// TTLAttribute names the epoch-seconds attribute after which DynamoDB deletes an item ("" for none).
	TTLAttribute string
	// Stream turns on a NEW_IMAGE stream, which feeds the audit shipper.
	Stream bool
	// KeyID names the KMS key (a Key.ID) that encrypts the table at rest.
	KeyID string
}

// Key is a KMS key definition.
type Key struct {
	ID string
	// Spec is the KMS KeySpec, Usage the KeyUsage.
	Spec  string
	Usage string
	// Purpose is written into the key's description.
	Purpose string
}

// Bucket is an S3 bucket definition.
type Bucket struct {
	ID         string
	ObjectLock bool
	KeyID      string
}

// Common attribute names of the single-table designs.
const (
	PK        = "pk"
	SK        = "sk"
	GSI1PK    = "gsi1pk"
	GSI1SK    = "gsi1sk"
	GSI2PK    = "gsi2pk"
	GSI2SK    = "gsi2sk"
	ExpiresAt = "expiresAt"
)

// Index names.
const (
	GSI1 = "gsi1"
	GSI2 = "gsi2"
	// AuditByTime lists audit records of one UTC day in time order.
	AuditByTime = "by-time"
)

// Audit table attribute names.
const (
	AuditEventID = "eventID"
	AuditDay     = "auditDay"
	AuditSortKey = "eventKey"
)

// The key IDs.
const (
	DataKey         = "data"
	VaultKey        = "vault"
	AuditSigningKey = "audit-signing"
	BackupKey       = "backup"
)

// Billing holds customers, invoices, payments, counters and idempotency records (single-table design;
// the access patterns are documented by the packages that own them).
var Billing = Table{
	ID:      "billing",
	HashKey: Attr{PK, String}, RangeKey: Attr{SK, String},
	Indexes: []Index{
		{GSI1, Attr{GSI1PK, String}, Attr{GSI1SK, String}},
		{GSI2, Attr{GSI2PK, String}, Attr{GSI2SK, String}},
	},
	TTLAttribute: ExpiresAt,
	KeyID:        DataKey,
}

// Vault holds card tokens. Only the tokens and payments functions may reach it.
var Vault = Table{
	ID:      "vault",
	HashKey: Attr{PK, String}, RangeKey: Attr{SK, String},
	Indexes: []Index{{GSI1, Attr{GSI1PK, String}, Attr{GSI1SK, String}}},
	KeyID:   VaultKey,
}

// Audit is the audit outbox: one item per audit record, streamed to S3 by the audit shipper.
var Audit = Table{
	ID:           "audit",
	HashKey:      Attr{AuditEventID, String},
	Indexes:      []Index{{AuditByTime, Attr{AuditDay, String}, Attr{AuditSortKey, String}}},
	TTLAttribute: ExpiresAt,
	Stream:       true,
	KeyID:        DataKey,
}

// Tables lists every table.
var Tables = []Table{Billing, Vault, Audit}

// Keys lists every KMS key.
var Keys = []Key{
	{ID: DataKey, Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", Purpose: "billing and audit data at rest"},
	{ID: VaultKey, Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", Purpose: "card data keys and the vault table"},
	{ID: AuditSigningKey, Spec: "RSA_2048", Usage: "SIGN_VERIFY", Purpose: "signs audit digest files"},
	{ID: BackupKey, Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", Purpose: "backup exports"},
}

// Bucket IDs.
const (
	AuditBucket     = "audit"
	BackupBucket    = "backup"
	AccessLogBucket = "access-logs"
)

// Buckets lists every S3 bucket.
var Buckets = []Bucket{
	{ID: AuditBucket, ObjectLock: true, KeyID: DataKey},
	{ID: BackupBucket, KeyID: BackupKey},
	{ID: AccessLogBucket},
}

// LocalPrefix prefixes the physical names the local stack uses. In AWS, CloudFormation names resources
// and passes the names to functions through the environment.
const LocalPrefix = "vaultbill-"

// Names maps logical resource IDs to the physical names of one local stack. Tests use their own
// prefix so that several stacks can share one emulator.
type Names struct{ Prefix string }

// LocalNames are the names `make dev` uses.
var LocalNames = Names{Prefix: LocalPrefix}

// Table is the physical name of a table.
func (n Names) Table(id string) string { return n.Prefix + id }

// Bucket is the physical name of a bucket.
func (n Names) Bucket(id string) string { return n.Prefix + id }

// KeyAlias is the alias of a key.
func (n Names) KeyAlias(id string) string { return "alias/" + n.Prefix + id }
