package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/config"
	"github.com/vaultbill/vaultbill/shared/resources"
)

// EncryptionContextPurpose is the encryption context key every direct KMS call of the application
// carries (shared/envelope, shared/backup): a policy requires it, so a data key can only be made or
// unwrapped for a stated purpose and CloudTrail names that purpose.
const EncryptionContextPurpose = "vaultbill:purpose"

// grants applies one function's permissions to its role and collects the environment variables that
// name what was granted (shared/config names), so a function is told about exactly what it may touch.
type grants struct {
	stack awscdk.Stack
	data  *DataStack
	role  awsiam.Role
	env   map[string]*string
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
	g.allow(sid+"TableKey", keyActions, []*string{g.tableKey(id).KeyArn()}, map[string]any{
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

// directKey allows KMS actions on a key called directly by the function, only with a purpose in the
// encryption context.
func (g *grants) directKey(sid, keyID string, actions ...string) {
	k := g.data.Keys[keyID]
	g.allow(sid, actions, []*string{k.KeyArn()}, map[string]any{
		"Null": map[string]any{"kms:EncryptionContext:" + EncryptionContextPurpose: "false"},
	})
	g.env[keyEnv[keyID]] = k.KeyArn()
}

// bucketKey allows the KMS use S3 makes for SSE-KMS on the caller's behalf, only via S3 and only for
// that bucket (with S3 Bucket Keys the encryption context is the bucket ARN).
func (g *grants) bucketKey(sid string, b awss3.Bucket, keyID string, actions ...string) {
	g.allow(sid, actions, []*string{g.data.Keys[keyID].KeyArn()}, map[string]any{
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
	case ReadWriteBilling:
		g.table("ReadWriteBilling", resources.Billing.ID, true, append(tableRead, tableWrite...)...)
	case ReadBilling:
		g.table("ReadBilling", resources.Billing.ID, false, tableRead...)
	case ReadWriteVault:
		g.table("ReadWriteVault", resources.Vault.ID, true, append(tableRead, tableWrite...)...)
	case ReadVault:
		g.table("ReadVault", resources.Vault.ID, false, "dynamodb:GetItem", "dynamodb:Query")
	case SealCards:
		g.directKey("SealCards", resources.VaultKey, "kms:GenerateDataKey", "kms:Decrypt")
	case OpenCards:
		g.directKey("OpenCards", resources.VaultKey, "kms:Decrypt")
	case QueryAudit:
		g.table("QueryAudit", resources.Audit.ID, false, "dynamodb:GetItem", "dynamodb:Query")
	case StreamAudit:
		// Granted by the event source mapping (table.grantStreamRead); the function reads nothing else.
		g.env[config.EnvAuditTable] = d.Tables[resources.Audit.ID].TableName()
	case ShipAuditLogs:
		b := d.Buckets[resources.AuditBucket]
		g.allow("ShipAuditLogs", []string{"s3:PutObject"}, []*string{b.ArnForObjects(jsii.String("AWSLogs/*"))}, nil)
		g.bucketKey("ShipAuditLogsKey", b, resources.DataKey, "kms:GenerateDataKey", "kms:Decrypt")
		g.env[config.EnvAuditBucket] = b.BucketName()
	case ReadAuditLogs:
		b := d.Buckets[resources.AuditBucket]
		g.allow("ReadAuditLogs", []string{"s3:GetObject"}, []*string{b.ArnForObjects(jsii.String("AWSLogs/*"))}, nil)
		g.allow("ListAuditLogs", []string{"s3:ListBucket"}, []*string{b.BucketArn()},
			map[string]any{"StringLike": map[string]any{"s3:prefix": []string{"AWSLogs/*"}}})
		g.bucketKey("ReadAuditLogsKey", b, resources.DataKey, "kms:Decrypt")
		g.env[config.EnvAuditBucket] = b.BucketName()
	case SignDigests:
		k := d.Keys[resources.AuditSigningKey]
		k.Grant(g.role, jsii.String("kms:Sign"), jsii.String("kms:GetPublicKey"))
		g.env[config.EnvAuditSigningKey] = k.KeyArn()
	case BackupTables:
		for _, t := range resources.Tables {
			g.table(LogicalID(t.ID, "Backup"), t.ID, false,
				"dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:CreateBackup")
		}
	case SealBackups:
		g.directKey("SealBackups", resources.BackupKey, "kms:GenerateDataKey")
	case WriteBackups:
		b := d.Buckets[resources.BackupBucket]
		g.allow("WriteBackups", []string{"s3:PutObject"}, []*string{b.ArnForObjects(jsii.String("backups/*"))}, nil)
		g.bucketKey("WriteBackupsKey", b, resources.BackupKey, "kms:GenerateDataKey", "kms:Decrypt")
		g.env[config.EnvBackupBucket] = b.BucketName()
	case ReadBackups:
		b := d.Buckets[resources.BackupBucket]
		g.allow("ReadBackups", []string{"s3:GetObject"}, []*string{b.ArnForObjects(jsii.String("backups/*"))}, nil)
		g.allow("ListBackups", []string{"s3:ListBucket"}, []*string{b.BucketArn()},
			map[string]any{"StringLike": map[string]any{"s3:prefix": []string{"backups/*"}}})
		g.bucketKey("ReadBackupsKey", b, resources.BackupKey, "kms:Decrypt")
		g.env[config.EnvBackupBucket] = b.BucketName()
	case OpenBackups:
		g.directKey("OpenBackups", resources.BackupKey, "kms:Decrypt")
	case RestoreTestTables:
		arn := g.stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("dynamodb"), Resource: jsii.String("table"), ResourceName: jsii.String(RestoreTestTablePrefix + "*"),
		})
		g.allow("RestoreTestTables", []string{
			"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable",
			"dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan",
		}, []*string{arn}, nil)
	case CheckVaultKey:
		g.directKey("CheckVaultKey", resources.VaultKey, "kms:Decrypt")
	case VerifyTokens:
		issuer := d.UserPool.UserPoolProviderUrl()
		g.env[config.EnvJWTIssuer] = issuer
		g.env[config.EnvJWTAudience] = d.UserPoolClient.UserPoolClientId()
		g.env[config.EnvJWKSURL] = jsii.String(*issuer + "/.well-known/jwks.json")
	default:
		panic(fmt.Sprintf("permission %q has no grant", p))
	}
}
