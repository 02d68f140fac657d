package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// OffsiteStackProps configures the offsite backup stack; StackProps.Env.Region must be the copy region.
type OffsiteStackProps struct {
	awscdk.StackProps
	// VaultName names the vault, so the data stack in another region can address it by ARN.
	VaultName string
	// MinRetentionDays locks recovery points against deletion for at least this long.
	MinRetentionDays int
	// KeyAdminARN administers the key ("" is the account root); see keys.go.
	KeyAdminARN string
}

// OffsiteStack holds the backup vault in a second region that receives a copy of every backup.
type OffsiteStack struct {
	awscdk.Stack
	Vault awsbackup.BackupVault
}

// Logical IDs of the offsite stack.
const (
	OffsiteKeyID   = "OffsiteBackupKey"
	OffsiteVaultID = "OffsiteBackupVault"
)

// NewOffsiteStack creates the offsite backup vault, encrypted under its own regional key and locked.
func NewOffsiteStack(scope constructs.Construct, id string, props *OffsiteStackProps) *OffsiteStack {
	sp := props.StackProps
	sp.TerminationProtection = jsii.Bool(true)
	stack := awscdk.NewStack(scope, jsii.String(id), &sp)
	key := awskms.NewKey(stack, jsii.String(OffsiteKeyID), &awskms.KeyProps{
		Description: jsii.String("Vaultbill offsite backup copies"),
		// Administrators cannot use it; only AWS Backup can, for this account (keys.go).
		Policy:            keyPolicy(keyAdmin(props.KeyAdminARN)),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
	})
	pin(key, OffsiteKeyID)
	// The copy jobs run in the source region with the data stack's backup selection role, which this
	// stack (deployed first) cannot name: the key is usable only through AWS Backup in this region.
	viaBackup := map[string]any{"StringEquals": map[string]any{
		"kms:ViaService": "backup." + *awscdk.Aws_REGION() + ".amazonaws.com", "kms:CallerAccount": awscdk.Aws_ACCOUNT_ID(),
	}}
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AWSBackupCopies"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &viaBackup,
	}), jsii.Bool(false))
	grant := map[string]any{"StringEquals": viaBackup["StringEquals"], "Bool": map[string]any{"kms:GrantIsForAWSResource": "true"}}
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AWSBackupCopiesGrants"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
		Conditions: &grant,
	}), jsii.Bool(false))
	vault := awsbackup.NewBackupVault(stack, jsii.String(OffsiteVaultID), &awsbackup.BackupVaultProps{
		BackupVaultName:            jsii.String(props.VaultName),
		EncryptionKey:              key,
		RemovalPolicy:              awscdk.RemovalPolicy_RETAIN,
		BlockRecoveryPointDeletion: jsii.Bool(true),
		// Governance-mode lock: recovery points cannot be deleted before the minimum retention.
		LockConfiguration: &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(props.MinRetentionDays))},
	})
	pin(vault, OffsiteVaultID)
	return &OffsiteStack{Stack: stack, Vault: vault}
}
