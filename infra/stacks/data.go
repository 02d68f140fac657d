package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// DataStackProps configures the stateful stack.
type DataStackProps struct {
	awscdk.StackProps
	// AuditRetentionDays is the Object Lock (compliance mode) default retention of the audit bucket.
	// PCI DSS 10.5.1 asks for at least 365 days.
	AuditRetentionDays int
	// ArchiveAfterDays moves log and backup objects to an archive storage class (PCI DSS 10.5.1: three
	// months immediately available).
	ArchiveAfterDays int
	// PITRDays is the point-in-time recovery window of every table (1..35).
	PITRDays int
	// BackupRetentionDays keeps AWS Backup recovery points in this region; OffsiteRetentionDays keeps the
	// cross-region copies.
	BackupRetentionDays, OffsiteRetentionDays int
	// BackupNoncurrentDays keeps replaced and deleted objects of the backup bucket (pruned backups).
	BackupNoncurrentDays int
	// OffsiteVaultARN is the AWS Backup vault in another region that receives a copy of every backup.
	OffsiteVaultARN *string
	// KeyAdminARN administers the keys ("" is the account root); see keys.go.
	KeyAdminARN string
}

// DataStack holds everything that keeps state: keys, tables, buckets, backups and the user pool. It is
// retained on deletion and protected against termination; every resource keeps a pinned logical ID so
// a refactoring can never replace it.
type DataStack struct {
	awscdk.Stack
	// Keys, Tables and Buckets are keyed by their shared/ops/resources IDs.
	Keys    map[string]awskms.Key
	Tables  map[string]awsdynamodb.Table
	Buckets map[string]awss3.Bucket
	// OpsKey encrypts log groups, the alerts topic and failure queues (operational data, not card data).
	OpsKey         awskms.Key
	UserPool       awscognito.UserPool
	UserPoolClient awscognito.UserPoolClient
	BackupVault    awsbackup.BackupVault
}

// LogicalID is the pinned CloudFormation logical ID of a stateful resource: the shared/ops/resources ID in
// PascalCase plus its kind ("audit-signing", "Key" → "AuditSigningKey").
func LogicalID(id, kind string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + kind
}

// Logical IDs of the stateful resources that are not in shared/ops/resources.
const (
	OpsKeyID         = "OpsKey"
	UserPoolID       = "UserPool"
	UserPoolClientID = "UserPoolClient"
	BackupVaultID    = "BackupVault"
	BackupPlanID     = "BackupPlan"
)

// pin fixes the logical ID of a construct's CloudFormation resource.
func pin(c constructs.IConstruct, logicalID string) {
	c.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(logicalID))
}

// NewDataStack creates the stateful stack.
func NewDataStack(scope constructs.Construct, id string, props *DataStackProps) *DataStack {
	sp := props.StackProps
	sp.TerminationProtection = jsii.Bool(true)
	stack := awscdk.NewStack(scope, jsii.String(id), &sp)
	d := &DataStack{
		Stack: stack,
		Keys:  map[string]awskms.Key{}, Tables: map[string]awsdynamodb.Table{}, Buckets: map[string]awss3.Bucket{},
	}
	admin := keyAdmin(props.KeyAdminARN)
	for _, k := range resources.Keys {
		d.Keys[k.ID] = newKey(stack, k, admin)
	}
	d.OpsKey = newOpsKey(stack, admin)
	for _, t := range resources.Tables {
		d.Tables[t.ID] = d.newTable(t, props.PITRDays)
	}
	d.newBuckets(props)
	d.protectAuditTrail()
	d.newUserPool()
	d.allowServiceKeyUses(d.newBackupPlan(props))
	awscdk.RemovalPolicies_Of(stack).Retain(nil)
	return d
}

func newKey(stack awscdk.Stack, k resources.Key, admin awsiam.IPrincipal) awskms.Key {
	props := &awskms.KeyProps{
		Description: jsii.String("Vaultbill " + k.ID + ": " + k.Purpose),
		// An explicit policy replaces the default "account root: kms:*" (keys.go).
		Policy:        keyPolicy(admin),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		PendingWindow: awscdk.Duration_Days(jsii.Number(30)),
	}
	switch {
	case k.Spec == "SYMMETRIC_DEFAULT":
		props.KeySpec, props.KeyUsage = awskms.KeySpec_SYMMETRIC_DEFAULT, awskms.KeyUsage_ENCRYPT_DECRYPT
		props.EnableKeyRotation = jsii.Bool(true)
	case k.Usage == "SIGN_VERIFY":
		// Asymmetric keys cannot rotate automatically; the digest records which key signed it.
		props.KeySpec, props.KeyUsage = awskms.KeySpec(k.Spec), awskms.KeyUsage_SIGN_VERIFY
	case k.Usage == "GENERATE_VERIFY_MAC":
		props.KeySpec, props.KeyUsage = awskms.KeySpec(k.Spec), awskms.KeyUsage_GENERATE_VERIFY_MAC
	default:
		panic(fmt.Sprintf("key %s: spec %s usage %s has no CDK mapping", k.ID, k.Spec, k.Usage))
	}
	key := awskms.NewKey(stack, jsii.String(LogicalID(k.ID, "Key")), props)
	pin(key, LogicalID(k.ID, "Key"))
	return key
}

// newOpsKey creates the key of operational data. CloudWatch Logs and CloudWatch alarms (publishing to
// the encrypted alerts topic) use it as services, so its key policy names them, bound to this account.
func newOpsKey(stack awscdk.Stack, admin awsiam.IPrincipal) awskms.Key {
	key := awskms.NewKey(stack, jsii.String(OpsKeyID), &awskms.KeyProps{
		Description:       jsii.String("Vaultbill ops: log groups, alerts topic, failure queues"),
		Policy:            keyPolicy(admin),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
	})
	pin(key, OpsKeyID)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchLogsOfThisAccount"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+*awscdk.Aws_REGION()+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{
			"kms:EncryptionContext:aws:logs:arn": "arn:" + *awscdk.Aws_PARTITION() + ":logs:" + *awscdk.Aws_REGION() + ":" + *awscdk.Aws_ACCOUNT_ID() + ":log-group:*",
		}},
	}), nil)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsToEncryptedTopic"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), nil)
	return key
}

func attr(a resources.Attr) *awsdynamodb.Attribute {
	t := awsdynamodb.AttributeType_STRING
	if a.Type == resources.Number {
		t = awsdynamodb.AttributeType_NUMBER
	}
	return &awsdynamodb.Attribute{Name: jsii.String(a.Name), Type: t}
}

func (d *DataStack) newTable(def resources.Table, pitrDays int) awsdynamodb.Table {
	key, ok := d.Keys[def.KeyID]
	if !ok {
		panic(fmt.Sprintf("table %s: no key %q", def.ID, def.KeyID))
	}
	props := &awsdynamodb.TableProps{
		PartitionKey:  attr(def.HashKey),
		BillingMode:   awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:    awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey: key,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
			RecoveryPeriodInDays:       jsii.Number(pitrDays),
		},
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	}
	if def.RangeKey.Name != "" {
		props.SortKey = attr(def.RangeKey)
	}
	if def.TTLAttribute != "" {
		props.TimeToLiveAttribute = jsii.String(def.TTLAttribute)
	}
	if def.Stream {
		props.Stream = awsdynamodb.StreamViewType_NEW_IMAGE
	}
	id := LogicalID(def.ID, "Table")
	t := awsdynamodb.NewTable(d.Stack, jsii.String(id), props)
	for _, ix := range def.Indexes {
		t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   attr(ix.HashKey),
			SortKey:        attr(ix.RangeKey),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	pin(t, id)
	return t
}

func (d *DataStack) newBuckets(props *DataStackProps) {
	// archive moves objects to an archive class after ArchiveAfterDays. expireAfterDays (0: never)
	// expires objects; noncurrentDays (0: with the objects) expires replaced and deleted versions.
	archive := func(expireAfterDays, noncurrentDays int) *[]*awss3.LifecycleRule {
		r := &awss3.LifecycleRule{
			Id: jsii.String("archive"),
			Transitions: &[]*awss3.Transition{{
				StorageClass: awss3.StorageClass_GLACIER(), TransitionAfter: awscdk.Duration_Days(jsii.Number(props.ArchiveAfterDays)),
			}},
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		}
		if expireAfterDays > 0 {
			r.Expiration = awscdk.Duration_Days(jsii.Number(expireAfterDays))
			noncurrentDays = expireAfterDays
		}
		if noncurrentDays > 0 {
			r.NoncurrentVersionExpiration = awscdk.Duration_Days(jsii.Number(noncurrentDays))
		}
		if noncurrentDays == 0 || noncurrentDays > props.ArchiveAfterDays {
			r.NoncurrentVersionTransitions = &[]*awss3.NoncurrentVersionTransition{{
				StorageClass: awss3.StorageClass_GLACIER(), TransitionAfter: awscdk.Duration_Days(jsii.Number(props.ArchiveAfterDays)),
			}}
		}
		if expireAfterDays == 0 && noncurrentDays > 0 {
			// Once its noncurrent versions are gone, a delete marker is removed too.
			r.ExpiredObjectDeleteMarker = jsii.Bool(true)
		}
		return &[]*awss3.LifecycleRule{r}
	}
	base := func() *awss3.BucketProps {
		return &awss3.BucketProps{
			Versioned:         jsii.Bool(true),
			BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
			ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
			EnforceSSL:        jsii.Bool(true),
			MinimumTLSVersion: jsii.Number(1.2),
			RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		}
	}
	// S3 delivers server access logs only to a bucket with SSE-S3 encryption and no Object Lock default.
	logsProps := base()
	logsProps.Encryption = awss3.BucketEncryption_S3_MANAGED
	logsProps.LifecycleRules = archive(props.AuditRetentionDays+props.ArchiveAfterDays, 0)
	for _, b := range resources.Buckets {
		if b.ID == resources.AccessLogBucket {
			d.Buckets[b.ID] = awss3.NewBucket(d.Stack, jsii.String(LogicalID(b.ID, "Bucket")), logsProps)
			pin(d.Buckets[b.ID], LogicalID(b.ID, "Bucket"))
		}
	}
	accessLogs := d.Buckets[resources.AccessLogBucket]
	for _, b := range resources.Buckets {
		if b.ID == resources.AccessLogBucket {
			continue
		}
		p := base()
		p.Encryption = awss3.BucketEncryption_KMS
		p.EncryptionKey = d.Keys[b.KeyID]
		p.BucketKeyEnabled = jsii.Bool(true)
		p.ServerAccessLogsBucket = accessLogs
		p.ServerAccessLogsPrefix = jsii.String(b.ID + "/")
		p.LifecycleRules = archive(0, 0)
		if b.ID == resources.BackupBucket {
			// The backup function deletes expired backups itself; what it deleted (or a mistaken
			// prune) stays recoverable as noncurrent versions for BackupNoncurrentDays.
			p.LifecycleRules = archive(0, props.BackupNoncurrentDays)
		}
		if b.ObjectLock {
			p.ObjectLockEnabled = jsii.Bool(true)
			p.ObjectLockDefaultRetention = awss3.ObjectLockRetention_Compliance(awscdk.Duration_Days(jsii.Number(props.AuditRetentionDays)))
		}
		id := LogicalID(b.ID, "Bucket")
		d.Buckets[b.ID] = awss3.NewBucket(d.Stack, jsii.String(id), p)
		pin(d.Buckets[b.ID], id)
	}
}

// CustomerIDAttribute is the user pool attribute that ties a customer login to its customer.
const CustomerIDAttribute = "customer_id"

func (d *DataStack) newUserPool() {
	// MFA for every user and no DeviceTracking (a remembered device could stand in for the second
	// factor): the authorizer takes this pool's tokens as MFA-proven (MFA_POOL_ISSUERS).
	pool := awscognito.NewUserPool(d.Stack, jsii.String(UserPoolID), &awscognito.UserPoolProps{
		SelfSignUpEnabled: jsii.Bool(false),
		SignInAliases:     &awscognito.SignInAliases{Email: jsii.Bool(true), Username: jsii.Bool(true)},
		// The settings are resources.Users, which the local stack's pool on the emulator shares.
		Mfa:             poolMFA(resources.Users),
		MfaSecondFactor: &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(!resources.Users.TOTPOnly)},
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:            jsii.Number(resources.Users.PasswordMinLength),
			RequireLowercase:     jsii.Bool(resources.Users.RequireLowercase),
			RequireUppercase:     jsii.Bool(resources.Users.RequireUppercase),
			RequireDigits:        jsii.Bool(resources.Users.RequireDigits),
			RequireSymbols:       jsii.Bool(resources.Users.RequireSymbols),
			TempPasswordValidity: awscdk.Duration_Days(jsii.Number(resources.Users.TempPasswordValidityDays)),
			PasswordHistorySize:  jsii.Number(4),
		},
		AccountRecovery:              awscognito.AccountRecovery_EMAIL_ONLY,
		FeaturePlan:                  awscognito.FeaturePlan_PLUS,
		StandardThreatProtectionMode: awscognito.StandardThreatProtectionMode_FULL_FUNCTION,
		CustomAttributes: &map[string]awscognito.ICustomAttribute{
			// Immutable: set by an administrator when the login is created, never by the user.
			CustomerIDAttribute: awscognito.NewStringAttribute(&awscognito.StringAttributeProps{
				Mutable: jsii.Bool(false), MinLen: jsii.Number(1), MaxLen: jsii.Number(resources.Users.CustomerIDMaxLen),
			}),
		},
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	pin(pool, UserPoolID)
	d.UserPool = pool
	d.UserPoolClient = pool.AddClient(jsii.String(UserPoolClientID), &awscognito.UserPoolClientOptions{
		AuthFlows:                  &awscognito.AuthFlow{UserSrp: jsii.Bool(true)},
		GenerateSecret:             jsii.Bool(false),
		PreventUserExistenceErrors: jsii.Bool(true),
		AccessTokenValidity:        awscdk.Duration_Minutes(jsii.Number(15)),
		IdTokenValidity:            awscdk.Duration_Minutes(jsii.Number(15)),
		RefreshTokenValidity:       awscdk.Duration_Hours(jsii.Number(8)),
		EnableTokenRevocation:      jsii.Bool(true),
		// Users may read but never write custom:customer_id.
		WriteAttributes: awscognito.NewClientAttributes().WithStandardAttributes(&awscognito.StandardAttributesMask{
			Email: jsii.Bool(true), Fullname: jsii.Bool(true),
		}),
	})
	pin(d.UserPoolClient, UserPoolClientID)
	for i, role := range auth.Roles {
		g := awscognito.NewCfnUserPoolGroup(d.Stack, jsii.String(LogicalID(string(role), "Group")), &awscognito.CfnUserPoolGroupProps{
			UserPoolId:  pool.UserPoolId(),
			GroupName:   jsii.String(string(role)),
			Description: jsii.String("Vaultbill role " + string(role)),
			Precedence:  jsii.Number(i),
		})
		g.OverrideLogicalId(jsii.String(LogicalID(string(role), "Group")))
	}
}

// newBackupPlan backs the three tables up daily into a vault under the backup key and copies every
// recovery point to a vault in another region (offsite copy). It returns the ARN of the selection's
// role, which the key policies name.
func (d *DataStack) newBackupPlan(props *DataStackProps) string {
	vault := awsbackup.NewBackupVault(d.Stack, jsii.String(BackupVaultID), &awsbackup.BackupVaultProps{
		EncryptionKey:              d.Keys[resources.BackupKey],
		RemovalPolicy:              awscdk.RemovalPolicy_RETAIN,
		BlockRecoveryPointDeletion: jsii.Bool(true),
	})
	pin(vault, BackupVaultID)
	d.BackupVault = vault
	offsite := awsbackup.BackupVault_FromBackupVaultArn(d.Stack, jsii.String("OffsiteVault"), props.OffsiteVaultARN)
	plan := awsbackup.NewBackupPlan(d.Stack, jsii.String(BackupPlanID), &awsbackup.BackupPlanProps{
		BackupVault: vault,
		BackupPlanRules: &[]awsbackup.BackupPlanRule{awsbackup.NewBackupPlanRule(&awsbackup.BackupPlanRuleProps{
			RuleName:           jsii.String("daily-with-offsite-copy"),
			ScheduleExpression: awsevents.Schedule_Cron(&awsevents.CronOptions{Hour: jsii.String("3"), Minute: jsii.String("0")}),
			StartWindow:        awscdk.Duration_Hours(jsii.Number(1)),
			CompletionWindow:   awscdk.Duration_Hours(jsii.Number(8)),
			DeleteAfter:        awscdk.Duration_Days(jsii.Number(props.BackupRetentionDays)),
			CopyActions: &[]*awsbackup.BackupPlanCopyActionProps{{
				DestinationBackupVault: offsite,
				DeleteAfter:            awscdk.Duration_Days(jsii.Number(props.OffsiteRetentionDays)),
			}},
		})},
	})
	pin(plan, BackupPlanID)
	var targets []awsbackup.BackupResource
	for _, t := range resources.Tables {
		targets = append(targets, awsbackup.BackupResource_FromDynamoDbTable(d.Tables[t.ID]))
	}
	sel := plan.AddSelection(jsii.String("Tables"), &awsbackup.BackupSelectionOptions{Resources: &targets})
	role := sel.Node().FindChild(jsii.String("Role")).Node().DefaultChild().(awscdk.CfnResource)
	return *role.GetAtt(jsii.String("Arn"), awscdk.ResolutionTypeHint_STRING).ToString()
}
