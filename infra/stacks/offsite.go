package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
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
		Description:       jsii.String("Vaultbill offsite backup copies"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
	})
	pin(key, OffsiteKeyID)
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
