package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// EncryptionContextPurpose is the encryption context key every direct KMS call of the application
// carries (shared/adapters/envelope, shared/ops/backup): a policy requires it, so a data key can only be made or
// unwrapped for a stated purpose and CloudTrail names that purpose.
const EncryptionContextPurpose = resources.EncryptionContextPurpose

// grants applies one function's permissions to its role and collects the environment variables that
// name what was granted (shared/api/config names), so a function is told about exactly what it may touch.
//
// The statements are written here rather than with CDK's grant*() helpers because those grant a fixed
// set of actions on the whole resource, with no conditions, and these grants are made of conditions:
//   - KMS use through a service is bound to that service and that resource: kms:ViaService and
//     kms:EncryptionContext:aws:dynamodb:tableName or kms:EncryptionContext:aws:s3:arn (table,
//     bucketKey); a direct KMS call to its stated purposes, kms:EncryptionContext:vaultbill:purpose
//     (directKey), so the role that seals cards cannot unwrap them; signing to one algorithm and
//     message type (kms:SigningAlgorithm, kms:MessageType). key.grantDecrypt() and the key use that
//     table.grantReadData() and bucket.grantRead() add allow the actions on the whole key.
//   - The key policies do not delegate to IAM (keys.go), so each KMS statement is mirrored into the
//     key's policy for this role alone (allowKey); grant*() writes the role's policy only.
//   - DynamoDB items are limited to a partition key prefix by dynamodb:LeadingKeys (the item prefixes
//     of shared/ops/resources: IDEM#, RATE#, LINK#, SESSION#, the audit ledger's logfile#), and S3
//     objects and listings to a key prefix (backups/, erasures/, AWSLogs/<account>/...).
//   - Every statement written here has a Sid, which the least-privilege test and Unexercised name;
//     the statements CDK adds itself have none, and those tests name them by action and resource
//     (GrantKeys).
//
// Where a permission is whole actions on a whole table and its indexes, the table's own
// Grant(role, actions...) is used (table), and only its key statement is written here; whole-table
// actions that must not reach the indexes (appending to the audit table, reading the vault, backing
// tables up) are written here too.
type grants struct {
	// fn is the function whose role this is (its key policy statements name the role).
	fn     string
	stack  awscdk.Stack
	data   *DataStack
	alerts awssns.Topic
	role   awsiam.Role
	env    map[string]*string
}

func (g *grants) allow(sid string, actions []string, res []*string, conditions map[string]any) {
	props := &awsiam.PolicyStatementProps{Sid: jsii.String(sid), Actions: jsii.Strings(actions...), Resources: &res}
	if conditions != nil {
		props.Conditions = &conditions
	}
	g.role.AddToPolicy(awsiam.NewPolicyStatement(props))
}

// table grants actions on one table (and its indexes) through the table's grant, and the KMS use
// DynamoDB makes on the caller's behalf, only via DynamoDB and only for that table.
func (g *grants) table(sid, id string, write bool, actions ...string) {
	t := g.data.Tables[id]
	if len(actions) > 0 {
		t.Grant(g.role, *jsii.Strings(actions...)...)
	}
	keyActions := []string{"kms:Decrypt"}
	if write {
		keyActions = append(keyActions, "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext")
	}
	g.allowKey(sid+"TableKey", g.tableKey(id), keyActions, map[string]any{
		"StringEquals": map[string]any{
			"kms:ViaService": "dynamodb." + *awscdk.Aws_REGION() + ".amazonaws.com",
			"kms:EncryptionContext:aws:dynamodb:tableName": t.TableName(),
		},
	})
	g.env[tableEnv[id]] = t.TableName()
}

func (g *grants) tableKey(id string) awskms.Key {
	for _, t := range resources.Tables {
		if t.ID == id {
			return g.data.Keys[t.KeyID]
		}
	}
	panic(fmt.Sprintf("no table %q", id))
}

// directKey allows KMS actions on a key called directly by the function, only for the listed
// purposes (the vaultbill:purpose value of the encryption context each call carries).
func (g *grants) directKey(sid, keyID string, purposes []string, actions ...string) {
	k := g.data.Keys[keyID]
	g.allowKey(sid, k, actions, map[string]any{
		"StringEquals": map[string]any{"kms:EncryptionContext:" + EncryptionContextPurpose: purposes},
	})
	g.env[keyEnv[keyID]] = k.KeyArn()
}

// Purposes of direct KMS calls: the vaultbill:purpose values of shared/adapters/vault (CardDataContext,
// FingerprintContext, whose contexts the template tests check) and shared/ops/backup, defined once in
// shared/ops/resources.
const (
	PurposeCardData    = resources.PurposeCardData
	PurposeFingerprint = resources.PurposeFingerprint
	PurposeBackup      = resources.PurposeBackup
	PurposeCanary      = resources.PurposeCanary
	// PurposeCustomerData is shared/adapters/customerkeys.Purpose: the per-customer keys of personal data.
	PurposeCustomerData = resources.PurposeCustomerData
)

// auditLogs is an ARN under AWSLogs/<account>/ in the audit bucket (the CloudTrail layout of
// shared/ops/audittrail): the account is this stack's, so no other account's prefix is reachable.
func (g *grants) auditLogs(rest string) *string {
	return g.data.Buckets[resources.AuditBucket].ArnForObjects(jsii.String(resources.TrailPrefix + *awscdk.Aws_ACCOUNT_ID() + "/" + rest))
}

// ledgerKeys limits DynamoDB calls to the audit table's ledger items (shared/ops/audittrail.TableLedger).
func (g *grants) ledgerKeys() map[string]any {
	return map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{resources.AuditLedgerKeyPrefix + "*"}}}
}

// bucketKey allows the KMS use S3 makes for SSE-KMS on the caller's behalf, only via S3 and only for
// that bucket (with S3 Bucket Keys the encryption context is the bucket ARN).
func (g *grants) bucketKey(sid string, b awss3.Bucket, keyID string, actions ...string) {
	g.allowKey(sid, g.data.Keys[keyID], actions, map[string]any{
		"StringEquals": map[string]any{
			"kms:ViaService":                   "s3." + *awscdk.Aws_REGION() + ".amazonaws.com",
			"kms:EncryptionContext:aws:s3:arn": b.BucketArn(),
		},
	})
}

var tableEnv = map[string]string{
	resources.Billing.ID: config.EnvBillingTable,
	resources.Vault.ID:   config.EnvVaultTable,
	resources.Audit.ID:   config.EnvAuditTable,
}

var keyEnv = map[string]string{
	resources.DataKey:         config.EnvDataKey,
	resources.VaultKey:        config.EnvVaultKey,
	resources.AuditSigningKey: config.EnvAuditSigningKey,
	resources.BackupKey:       config.EnvBackupKey,
}

var (
	tableRead  = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"}
	tableWrite = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
)

// apply grants one permission. Every Permission constant has a case; an unknown one panics at synth.
func (g *grants) apply(p Permission) {
	d := g.data
	switch p {
	case AppendAudit:
		audit := d.Tables[resources.Audit.ID]
		g.allow("AppendAudit", []string{"dynamodb:PutItem"}, []*string{audit.TableArn()}, nil)
		g.table("AppendAudit", resources.Audit.ID, true) // no actions: only the key use via DynamoDB
	case Idempotency:
		billing := d.Tables[resources.Billing.ID]
		g.allow("IdempotencyRecords",
			[]string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"},
			[]*string{billing.TableArn()},
			map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{resources.IdempotencyKeyPrefix + "*"}}})
		g.table("IdempotencyRecords", resources.Billing.ID, true) // no actions: only the key use via DynamoDB
	case CountCardAttempts:
		billing := d.Tables[resources.Billing.ID]
		g.allow("CardAttemptCounters", []string{"dynamodb:UpdateItem"}, []*string{billing.TableArn()},
			map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{resources.RateLimitKeyPrefix + "*"}}})
		g.table("CardAttemptCounters", resources.Billing.ID, true) // no actions: only the key use via DynamoDB
	case WriteInvoiceLinks:
		billing := d.Tables[resources.Billing.ID]
		g.allow("InvoiceLinks", []string{"dynamodb:PutItem"}, []*string{billing.TableArn()},
			map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{resources.LinkKeyPrefix + "*"}}})
		g.table("InvoiceLinks", resources.Billing.ID, true) // no actions: only the key use via DynamoDB
	case ReadWriteBilling:
		g.table("ReadWriteBilling", resources.Billing.ID, true, append(tableRead, tableWrite...)...)
	case ReadBilling:
		g.table("ReadBilling", resources.Billing.ID, false, tableRead...)
	case ReadWriteVault:
		g.table("ReadWriteVault", resources.Vault.ID, true, append(tableRead, tableWrite...)...)
	case ReadVault:
		vault := d.Tables[resources.Vault.ID]
		g.allow("ReadVault", []string{"dynamodb:GetItem"}, []*string{vault.TableArn()}, nil)
		g.table("ReadVault", resources.Vault.ID, false)
	case SealCards:
		// shared/adapters/envelope seals card data (GenerateDataKey, card-data); shared/adapters/vault creates the
		// fingerprint key once (GenerateDataKey, card-fingerprint) and unwraps it at cold start
		// (Decrypt, card-fingerprint). Tokens never unwraps a card data key.
		g.directKey("SealCards", resources.VaultKey, []string{PurposeCardData, PurposeFingerprint}, "kms:GenerateDataKey")
		g.directKey("UnwrapFingerprintKey", resources.VaultKey, []string{PurposeFingerprint}, "kms:Decrypt")
	case OpenCards:
		g.directKey("OpenCards", resources.VaultKey, []string{PurposeCardData}, "kms:Decrypt")
	case QueryAudit:
		audit := d.Tables[resources.Audit.ID]
		g.allow("QueryAudit", []string{"dynamodb:Query"},
			[]*string{jsii.String(*audit.TableArn() + "/index/" + resources.AuditByTime)}, nil)
		g.table("QueryAudit", resources.Audit.ID, false)
	case StreamAudit:
		// Granted by the event source mapping (table.grantStreamRead); the function reads nothing else.
		g.env[config.EnvAuditTable] = d.Tables[resources.Audit.ID].TableName()
		// The role's IAM side (kms:Decrypt on the table key) comes with the grant; the key policy must
		// allow the stream reads too, through DynamoDB only.
		allowKeyUse(g.tableKey(resources.Audit.ID), g.fn, "StreamAuditKey", []string{"kms:Decrypt"}, map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": "dynamodb." + *awscdk.Aws_REGION() + ".amazonaws.com"},
		})
	case ShipAuditLogs:
		b := d.Buckets[resources.AuditBucket]
		g.allow("ShipAuditLogs", []string{"s3:PutObject"}, []*string{g.auditLogs(resources.TrailService + "/*")}, nil)
		g.bucketKey("ShipAuditLogsKey", b, resources.DataKey, "kms:GenerateDataKey", "kms:Decrypt")
		g.env[config.EnvAuditBucket] = b.BucketName()
		// The ledger of written files (version and hash) in the audit table, its own items only.
		g.allow("RecordLogFiles", []string{"dynamodb:PutItem"}, []*string{d.Tables[resources.Audit.ID].TableArn()}, g.ledgerKeys())
		g.table("RecordLogFiles", resources.Audit.ID, true)
	case ReadAuditLogs:
		b := d.Buckets[resources.AuditBucket]
		g.allow("ReadAuditLogs", []string{"s3:GetObject", "s3:GetObjectVersion"}, []*string{g.auditLogs("*")}, nil)
		g.allow("ListAuditLogs", []string{"s3:ListBucket", "s3:ListBucketVersions"}, []*string{b.BucketArn()},
			map[string]any{"StringLike": map[string]any{"s3:prefix": []string{resources.TrailPrefix + *awscdk.Aws_ACCOUNT_ID() + "/*"}}})
		g.bucketKey("ReadAuditLogsKey", b, resources.DataKey, "kms:Decrypt")
		g.env[config.EnvAuditBucket] = b.BucketName()
		g.allow("ReadLogFileRecords", []string{"dynamodb:BatchGetItem"}, []*string{d.Tables[resources.Audit.ID].TableArn()}, g.ledgerKeys())
		g.table("ReadLogFileRecords", resources.Audit.ID, false)
	case WriteDigests:
		b := d.Buckets[resources.AuditBucket]
		g.allow("WriteDigests", []string{"s3:PutObject"}, []*string{g.auditLogs(resources.TrailDigestService + "/*")}, nil)
		g.bucketKey("WriteDigestsKey", b, resources.DataKey, "kms:GenerateDataKey", "kms:Decrypt")
		g.env[config.EnvAuditBucket] = b.BucketName()
	case SignDigests:
		// Sign and GetPublicKey carry no encryption context, so no purpose condition: the signing
		// algorithm and message type of shared/ops/audittrail.SignDigest are pinned instead.
		k := d.Keys[resources.AuditSigningKey]
		g.allowKey("SignDigests", k, []string{"kms:Sign"}, map[string]any{
			"StringEquals": map[string]any{"kms:SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256", "kms:MessageType": "RAW"},
		})
		g.allowKey("DigestPublicKey", k, []string{"kms:GetPublicKey"}, nil)
		g.env[config.EnvAuditSigningKey] = k.KeyArn()
	case PublishAlerts:
		g.allow("PublishAlerts", []string{"sns:Publish"}, []*string{g.alerts.TopicArn()}, nil)
		// The topic is encrypted with the ops key; SNS uses it on the publisher's behalf.
		g.allowKey("PublishAlertsKey", d.OpsKey, []string{"kms:GenerateDataKey", "kms:Decrypt"}, map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": "sns." + *awscdk.Aws_REGION() + ".amazonaws.com"},
		})
		g.env[resources.EnvAuditAlertTopicARN] = g.alerts.TopicArn()
	case BackupTables:
		for _, t := range resources.Tables {
			table := d.Tables[t.ID]
			sid := LogicalID(t.ID, "Backup")
			g.allow(sid, []string{"dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:CreateBackup"}, []*string{table.TableArn()}, nil)
			g.allow(sid+"Prune", []string{"dynamodb:DeleteBackup"}, []*string{jsii.String(*table.TableArn() + "/backup/*")}, nil)
			g.table(sid, t.ID, false)
		}
		g.allow("ListNativeBackups", []string{"dynamodb:ListBackups"}, []*string{jsii.String("*")}, nil)
	case SealBackups:
		g.directKey("SealBackups", resources.BackupKey, []string{PurposeBackup}, "kms:GenerateDataKey")
	case WriteBackups:
		b := d.Buckets[resources.BackupBucket]
		g.allow("WriteBackups", []string{"s3:PutObject", "s3:DeleteObject"}, []*string{b.ArnForObjects(jsii.String(resources.BackupsPrefix + "*"))}, nil)
		g.listBackups(b)
		g.bucketKey("WriteBackupsKey", b, resources.BackupKey, "kms:GenerateDataKey", "kms:Decrypt")
		g.env[config.EnvBackupBucket] = b.BucketName()
	case ReadBackups:
		b := d.Buckets[resources.BackupBucket]
		g.allow("ReadBackups", []string{"s3:GetObject"}, []*string{b.ArnForObjects(jsii.String(resources.BackupsPrefix + "*"))}, nil)
		g.listBackups(b)
		g.bucketKey("ReadBackupsKey", b, resources.BackupKey, "kms:Decrypt")
		g.env[config.EnvBackupBucket] = b.BucketName()
	case ReadCheckpoints:
		g.allow("ReadCheckpoints", []string{"s3:GetObject"}, []*string{d.Buckets[resources.BackupBucket].ArnForObjects(jsii.String(resources.BackupsPrefix + "*"))}, nil)
	case ContinueSelf:
		// Granted once the function exists (allowContinue): its ARN is not known yet.
	case OpenBackups:
		g.directKey("OpenBackups", resources.BackupKey, []string{PurposeBackup}, "kms:Decrypt")
	case RestoreTestTables:
		arn := g.stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("dynamodb"), Resource: jsii.String("table"), ResourceName: jsii.String(RestoreTestTablePrefix + "*"),
		})
		g.allow("RestoreTestTables", []string{
			"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable", "dynamodb:BatchWriteItem", "dynamodb:Scan",
		}, []*string{arn}, nil)
		// Scratch tables are created under the original's key (shared/local/provision.CreateTableInput), so
		// DynamoDB needs a grant on the data and vault keys, and uses them for the scratch tables only.
		var keys []*string
		tableKeys := []string{resources.DataKey, resources.VaultKey}
		for _, id := range tableKeys {
			keys = append(keys, d.Keys[id].KeyArn())
			g.env[keyEnv[id]] = d.Keys[id].KeyArn()
		}
		via := "dynamodb." + *awscdk.Aws_REGION() + ".amazonaws.com"
		for _, s := range []struct {
			sid        string
			actions    []string
			conditions map[string]any
		}{
			{"RestoreTestTablesKeys", []string{"kms:DescribeKey"}, map[string]any{"StringEquals": map[string]any{"kms:ViaService": via}}},
			{"RestoreTestTablesGrant", []string{"kms:CreateGrant"}, map[string]any{
				"StringEquals": map[string]any{"kms:ViaService": via},
				"Bool":         map[string]any{"kms:GrantIsForAWSResource": "true"},
			}},
			{"RestoreTestTablesData", []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"}, map[string]any{
				"StringEquals": map[string]any{"kms:ViaService": via},
				"StringLike":   map[string]any{"kms:EncryptionContext:aws:dynamodb:tableName": RestoreTestTablePrefix + "*"},
			}},
		} {
			g.allow(s.sid, s.actions, keys, s.conditions)
			for _, id := range tableKeys {
				allowKeyUse(d.Keys[id], g.fn, s.sid, s.actions, s.conditions)
			}
		}
	case NameTables:
		for _, t := range resources.Tables {
			g.env[tableEnv[t.ID]] = d.Tables[t.ID].TableName()
		}
	case CheckVaultKey:
		// The canary only: the restore test never unwraps a card data key (DESIGN §6.8).
		g.directKey("CheckVaultKey", resources.VaultKey, []string{PurposeCanary}, "kms:Decrypt")
	case SealVaultCanary:
		g.directKey("SealVaultCanary", resources.VaultKey, []string{PurposeCanary}, "kms:GenerateDataKeyWithoutPlaintext")
	case VerifyTokens:
		issuer := d.UserPool.UserPoolProviderUrl()
		g.env[config.EnvJWTIssuer] = issuer
		g.env[config.EnvJWTAudience] = d.UserPoolClient.UserPoolClientId()
		g.env[config.EnvJWKSURL] = jsii.String(*issuer + "/.well-known/jwks.json")
		// The pool requires MFA of every user and remembers no devices (template-tests/mfa_test.go), so
		// its tokens prove MFA even when Cognito issues them without amr.
		g.env[config.EnvMFAPoolIssuers] = issuer
	case ReadSessionEpochs:
		billing := d.Tables[resources.Billing.ID]
		g.allow("ReadSessionEpochs", []string{"dynamodb:GetItem"}, []*string{billing.TableArn()},
			map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{resources.SessionKeyPrefix + "*"}}})
		g.table("ReadSessionEpochs", resources.Billing.ID, false) // no actions: only the key use via DynamoDB
	case RevokeSessions:
		billing := d.Tables[resources.Billing.ID]
		g.allow("RevokeSessions", []string{"dynamodb:UpdateItem"}, []*string{billing.TableArn()},
			map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{resources.SessionKeyPrefix + "*"}}})
		g.table("RevokeSessions", resources.Billing.ID, true) // no actions: only the key use via DynamoDB
	case AdministerUsers:
		g.allow("AdministerUsers", resources.UserPoolAdminActions, []*string{d.UserPool.UserPoolArn()}, nil)
		g.env[config.EnvUserPoolID] = d.UserPool.UserPoolId()
	case SealCustomerData:
		g.directKey("SealCustomerData", resources.DataKey, []string{PurposeCustomerData}, "kms:GenerateDataKey", "kms:Decrypt")
	case OpenCustomerData:
		g.directKey("OpenCustomerData", resources.DataKey, []string{PurposeCustomerData}, "kms:Decrypt")
	case RecordErasures:
		b := d.Buckets[resources.BackupBucket]
		g.allow("RecordErasures", []string{"s3:PutObject"}, []*string{b.ArnForObjects(jsii.String(resources.ErasuresPrefix + "*"))}, nil)
		g.bucketKey("RecordErasuresKey", b, resources.BackupKey, "kms:GenerateDataKey")
		g.env[config.EnvBackupBucket] = b.BucketName()
	default:
		panic(fmt.Sprintf("permission %q has no grant", p))
	}
}

// listBackups allows listing the backup bucket under backups/ only (shared/ops/backup lists
// backups/<table>/ to find, verify and prune backups).
func (g *grants) listBackups(b awss3.Bucket) {
	g.allow("ListBackupObjects", []string{"s3:ListBucket"}, []*string{b.BucketArn()},
		map[string]any{"StringLike": map[string]any{"s3:prefix": []string{resources.BackupsPrefix + "*"}}})
}

// Unexercised gives, for each permission, the reason for each grant that the local stack's
// end-to-end run (template-tests/leastpriv_test.go) does not use, by one of its GrantKeys. The test
// fails on any other grant no recorded call uses: remove the grant, exercise it, or say here why it
// stays. docs/compliance.md lists these reasons (TestComplianceDocListsUnexercisedGrants).
var Unexercised = map[Permission]map[string]string{
	Idempotency: {
		"IdempotencyRecords": "shared/api/endpoint keeps an idempotency record for any request with an Idempotency-Key in every API function " +
			"(put, a condition check in the write's transaction, delete when the request fails); the run does not fail or replay " +
			"in every function, and me and audit-query serve GET only, which keeps no record",
		"IdempotencyRecordsTableKey": "the key use DynamoDB makes for the idempotency records (see IdempotencyRecords)",
	},
	ReadWriteBilling: {
		"dynamodb:BatchGetItem":             "in the table read set (tableRead); no code reads billing items in batches today: a candidate for removal",
		"dynamodb:ConditionCheckItem":       "shared/adapters/billingdb checks related items inside its transactions; credit-notes and payments take that path only on conflicts",
		"dynamodb:DeleteItem on billing":    "in the table write set (tableWrite); only invoices deletes billing items (drafts): a candidate for removal in credit-notes and payments",
		"dynamodb:Query on billing":         "in the table read set (tableRead); the billing lists query the indexes (gsi1, gsi2), not the table: a candidate for removal",
		"dynamodb:Query on billing/index/*": "payments finds an invoice's payments through gsi1 (shared/adapters/billingdb/payments.go) when it retries; the run pays once",
		"dynamodb:UpdateItem on billing":    "in the table write set (tableWrite); data-rights writes the erased customer whole (a put, shared/adapters/billingdb ErasedCustomerItem): a candidate for removal in data-rights",
	},
	ReadBilling: {
		"dynamodb:BatchGetItem":             "in the table read set (tableRead); tokens reads one customer by key: a candidate for removal",
		"dynamodb:Query on billing":         "in the table read set (tableRead); tokens reads one customer by key: a candidate for removal",
		"dynamodb:Query on billing/index/*": "in the table read set (tableRead); tokens reads one customer by key: a candidate for removal",
		"dynamodb:ConditionCheckItem":       "tokens checks the customer inside its token's transaction; users and hosted-page read single items only: a candidate for removal in those two",
	},
	ReadWriteVault: {
		"dynamodb:BatchGetItem":        "in the table read set (tableRead); no code reads tokens in batches: a candidate for removal",
		"dynamodb:ConditionCheckItem":  "shared/handlers/tokens checks the token inside its transactions (tokens.go) when a card is stored again; the run stores one card",
		"dynamodb:Query on vault":      "in the table read set (tableRead); the token list queries gsi1, not the table: a candidate for removal",
		"dynamodb:UpdateItem on vault": "in the table write set (tableWrite); tokens puts and deletes tokens, it updates none: a candidate for removal",
		"dynamodb:GetItem on vault":    "in the table read set (tableRead); data-rights finds a customer's tokens through gsi1 and reads no single token: a candidate for removal in data-rights",
		"dynamodb:PutItem on vault":    "in the table write set (tableWrite); data-rights only deletes tokens: a candidate for removal in data-rights",
	},
	SealCards: {
		"UnwrapFingerprintKey": "shared/adapters/vault unwraps the stored fingerprint key at a cold start; the run's stack creates it (GenerateDataKey) and keeps it in memory",
	},
	StreamAudit: {
		"dynamodb:ListStreams":    "CDK's stream grant (grantStreamRead) for the event source mapping; Lambda reads the stream the template names",
		"kms:Decrypt on data":     "CDK's stream grant: Lambda decrypts the audit table's stream for the event source mapping, a service call the emulator does not make",
		"kms:DescribeKey on data": "CDK's stream grant: Lambda describes the stream's key for the event source mapping, a service call the emulator does not make",
	},
	PublishAlerts: {
		"PublishAlerts":    "the automated review publishes only on a finding, and the local stack has no alerts topic",
		"PublishAlertsKey": "the key use SNS makes when the review publishes (see PublishAlerts)",
	},
	BackupTables: {
		"AuditBackupPrune":   "the prune deletes native backups older than the retention period; a fresh stack has none",
		"BillingBackupPrune": "the prune deletes native backups older than the retention period; a fresh stack has none",
		"VaultBackupPrune":   "the prune deletes native backups older than the retention period; a fresh stack has none",
	},
	WriteBackups: {
		"s3:DeleteObject": "the prune deletes exports older than the retention period; a fresh stack has none",
	},
	OpenBackups: {
		"OpenBackups": "the backup function unwraps its run's data key again only when the run continues in a new invocation " +
			"(shared/ops/backup continuation.go); the run's backup finishes in one",
	},
	ContinueSelf: {
		"ContinueSelf": "a backup or restore test that outlasts its invocation invokes its own function to continue, with a signed request " +
			"the run's SDK recorder does not see (shared/ops/backup reinvoke.go; TestReinvokeIsASignedAsynchronousInvoke, TestContinuation)",
	},
	AdministerUsers: {
		"cognito-idp:AdminDeleteUser": "shared/adapters/userpool deletes an invited user whose random sub reads as a card number and invites it again; no sub of the run does",
	},
	ReadAuditLogs: {
		"s3:GetObjectVersion": "the digest and the reconciler read a log file by its version only when the shipper's ledger has no record of it " +
			"(a shipper stopped between the file and its ledger item); the run's shipper records every file it writes",
	},
}

// RuntimeGrants gives the reason, by one of its GrantKeys, for the statements a function's role gets
// from CDK and the Lambda runtime rather than from a Permission.
var RuntimeGrants = map[string]string{
	"WriteOwnLogs":                       "the Lambda runtime writes the function's output to its own log group",
	"xray:PutTraceSegments":              "active tracing: the Lambda runtime sends the function's trace segments",
	"xray:PutTelemetryRecords":           "active tracing: the Lambda runtime sends the function's trace telemetry",
	"sqs:SendMessage on Failures":        "Lambda sends a failed asynchronous invocation to the encrypted failure queue with the function's role",
	"sqs:GetQueueAttributes on Failures": "CDK's grant to send to the failure queue (queue.grantSendMessages)",
	"sqs:GetQueueUrl on Failures":        "CDK's grant to send to the failure queue (queue.grantSendMessages)",
	"kms:Decrypt on OpsKey":              "CDK's grant to send to the failure queue, encrypted under the ops key: SQS uses the key on the sender's behalf",
	"kms:Encrypt on OpsKey":              "CDK's grant to send to the failure queue, encrypted under the ops key: SQS uses the key on the sender's behalf",
	"kms:ReEncrypt* on OpsKey":           "CDK's grant to send to the failure queue, encrypted under the ops key: SQS uses the key on the sender's behalf",
	"kms:GenerateDataKey* on OpsKey":     "CDK's grant to send to the failure queue, encrypted under the ops key: SQS uses the key on the sender's behalf",
	"item actions on index/*": "CDK's table grant repeats every action on the table's indexes; DynamoDB authorizes only Query and Scan on an index, " +
		"so the item actions grant nothing there",
}

// GrantKeys are the keys a reason for an action granted on a resource may have, most specific first:
// the statement's Sid, the action on the resource ("dynamodb:Query on billing/index/*": on names the
// resource by its shared/ops/resources ID, or by its logical ID without the hash), and the action. An item
// action on a table's indexes also has the key "item actions on index/*".
func GrantKeys(sid, action, on string) []string {
	var keys []string
	if sid != "" {
		keys = append(keys, sid)
	}
	keys = append(keys, action+" on "+on, action)
	if strings.HasSuffix(on, "/index/*") && action != "dynamodb:Query" && action != "dynamodb:Scan" {
		keys = append(keys, "item actions on index/*")
	}
	return keys
}
