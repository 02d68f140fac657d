package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/auditreview"
	"github.com/vaultbill/vaultbill/shared/audittrail"
	"github.com/vaultbill/vaultbill/shared/backup"
	"github.com/vaultbill/vaultbill/shared/config"
	"github.com/vaultbill/vaultbill/shared/customerkeys"
	"github.com/vaultbill/vaultbill/shared/erasures"
	"github.com/vaultbill/vaultbill/shared/ratelimit"
	"github.com/vaultbill/vaultbill/shared/resources"
)

// EncryptionContextPurpose is the encryption context key every direct KMS call of the application
// carries (shared/envelope, shared/backup): a policy requires it, so a data key can only be made or
// unwrapped for a stated purpose and CloudTrail names that purpose.
const EncryptionContextPurpose = "vaultbill:purpose"

// grants applies one function's permissions to its role and collects the environment variables that
// name what was granted (shared/config names), so a function is told about exactly what it may touch.
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

// Purposes of direct KMS calls: the vaultbill:purpose values of shared/vault (CardDataContext,
// FingerprintContext, checked against that package by the template tests) and shared/backup.
const (
	PurposeCardData    = "card-data"
	PurposeFingerprint = "card-fingerprint"
	PurposeBackup      = backup.Purpose
	PurposeCanary      = backup.CanaryPurpose
	// PurposeCustomerData is shared/customerkeys.Purpose: the per-customer keys of personal data.
	PurposeCustomerData = customerkeys.Purpose
)

// auditLogs is an ARN under AWSLogs/<account>/ in the audit bucket (the CloudTrail layout of
// shared/audittrail): the account is this stack's, so no other account's prefix is reachable.
func (g *grants) auditLogs(rest string) *string {
	return g.data.Buckets[resources.AuditBucket].ArnForObjects(jsii.String("AWSLogs/" + *awscdk.Aws_ACCOUNT_ID() + "/" + rest))
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
			[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"},
			[]*string{billing.TableArn()},
			map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{"IDEM#*"}}})
		g.table("IdempotencyRecords", resources.Billing.ID, true) // no actions: only the key use via DynamoDB
	case CountCardAttempts:
		billing := d.Tables[resources.Billing.ID]
		g.allow("CardAttemptCounters", []string{"dynamodb:UpdateItem"}, []*string{billing.TableArn()},
			map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{ratelimit.Prefix + "*"}}})
		g.table("CardAttemptCounters", resources.Billing.ID, true) // no actions: only the key use via DynamoDB
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
		// shared/envelope seals card data (GenerateDataKey, card-data); shared/vault creates the
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
		g.allow("ShipAuditLogs", []string{"s3:PutObject"}, []*string{g.auditLogs(audittrail.Service + "/*")}, nil)
		g.bucketKey("ShipAuditLogsKey", b, resources.DataKey, "kms:GenerateDataKey", "kms:Decrypt")
		g.env[config.EnvAuditBucket] = b.BucketName()
	case ReadAuditLogs:
		b := d.Buckets[resources.AuditBucket]
		g.allow("ReadAuditLogs", []string{"s3:GetObject"}, []*string{g.auditLogs("*")}, nil)
		g.allow("ListAuditLogs", []string{"s3:ListBucket"}, []*string{b.BucketArn()},
			map[string]any{"StringLike": map[string]any{"s3:prefix": []string{"AWSLogs/" + *awscdk.Aws_ACCOUNT_ID() + "/*"}}})
		g.bucketKey("ReadAuditLogsKey", b, resources.DataKey, "kms:Decrypt")
		g.env[config.EnvAuditBucket] = b.BucketName()
	case WriteDigests:
		b := d.Buckets[resources.AuditBucket]
		g.allow("WriteDigests", []string{"s3:PutObject"}, []*string{g.auditLogs(audittrail.DigestService + "/*")}, nil)
		g.bucketKey("WriteDigestsKey", b, resources.DataKey, "kms:GenerateDataKey", "kms:Decrypt")
		g.env[config.EnvAuditBucket] = b.BucketName()
	case SignDigests:
		// Sign and GetPublicKey carry no encryption context, so no purpose condition: the signing
		// algorithm and message type of shared/audittrail.SignDigest are pinned instead.
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
		g.env[auditreview.EnvTopicARN] = g.alerts.TopicArn()
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
		g.allow("WriteBackups", []string{"s3:PutObject", "s3:DeleteObject"}, []*string{b.ArnForObjects(jsii.String("backups/*"))}, nil)
		g.listBackups(b)
		g.bucketKey("WriteBackupsKey", b, resources.BackupKey, "kms:GenerateDataKey", "kms:Decrypt")
		g.env[config.EnvBackupBucket] = b.BucketName()
	case ReadBackups:
		b := d.Buckets[resources.BackupBucket]
		g.allow("ReadBackups", []string{"s3:GetObject"}, []*string{b.ArnForObjects(jsii.String("backups/*"))}, nil)
		g.listBackups(b)
		g.bucketKey("ReadBackupsKey", b, resources.BackupKey, "kms:Decrypt")
		g.env[config.EnvBackupBucket] = b.BucketName()
	case OpenBackups:
		g.directKey("OpenBackups", resources.BackupKey, []string{PurposeBackup}, "kms:Decrypt")
	case RestoreTestTables:
		arn := g.stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("dynamodb"), Resource: jsii.String("table"), ResourceName: jsii.String(RestoreTestTablePrefix + "*"),
		})
		g.allow("RestoreTestTables", []string{
			"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable", "dynamodb:BatchWriteItem", "dynamodb:Scan",
		}, []*string{arn}, nil)
		// Scratch tables are created under the original's key (shared/provision.CreateTableInput), so
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
	case SealCustomerData:
		g.directKey("SealCustomerData", resources.DataKey, []string{PurposeCustomerData}, "kms:GenerateDataKey", "kms:Decrypt")
	case OpenCustomerData:
		g.directKey("OpenCustomerData", resources.DataKey, []string{PurposeCustomerData}, "kms:Decrypt")
	case RecordErasures:
		b := d.Buckets[resources.BackupBucket]
		g.allow("RecordErasures", []string{"s3:PutObject"}, []*string{b.ArnForObjects(jsii.String(erasures.Prefix + "*"))}, nil)
		g.bucketKey("RecordErasuresKey", b, resources.BackupKey, "kms:GenerateDataKey")
		g.env[config.EnvBackupBucket] = b.BucketName()
	default:
		panic(fmt.Sprintf("permission %q has no grant", p))
	}
}

// listBackups allows listing the backup bucket under backups/ only (shared/backup lists
// backups/<table>/ to find, verify and prune backups).
func (g *grants) listBackups(b awss3.Bucket) {
	g.allow("ListBackupObjects", []string{"s3:ListBucket"}, []*string{b.BucketArn()},
		map[string]any{"StringLike": map[string]any{"s3:prefix": []string{"backups/*"}}})
}
