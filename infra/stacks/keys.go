package stacks

import (
	"maps"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Key policies: who administers a key never uses it, and only named function roles use it.
//
// Every key gets an explicit policy instead of CDK's default (the account root may do kms:*, which
// lets any IAM administrator decrypt card data keys or sign forged digests):
//
//   - Key administrators (AppProps.KeyAdminARN, default the account root, i.e. whoever IAM allows)
//     may only administer: KeyAdminActions, and kms:CreateGrant only for AWS resources (DynamoDB,
//     AWS Backup and S3 create such grants when CloudFormation creates a table, vault or bucket under
//     the key). No Encrypt, Decrypt, GenerateDataKey*, ReEncrypt*, Sign or grant to a principal.
//   - Each use a function makes is a statement of its own, mirrored from the function's IAM statement
//     (grants.allowKey): same actions, same conditions (kms:ViaService and the table name or bucket
//     ARN for service use, kms:EncryptionContext:vaultbill:purpose for direct use), limited to that
//     function's role by aws:PrincipalArn. IAM must allow it too: both policies have to agree.
//
// Cross-stack design: the keys live in the data stack, the function roles in the API stack, which
// is deployed after it. KMS refuses a key policy whose Principal names a role that does not exist
// yet, and the data stack cannot reference the API stack (that would be a cycle). So the roles get
// deterministic names (FunctionRoleName: stack, function, region), and the key policies name them by
// ARN in an aws:PrincipalArn condition on the account principal, which KMS accepts before the role
// exists. Only the role with that exact name can match; creating, deleting or re-creating roles, and
// passing them to code (iam:PassRole), is an IAM administrator's power that a key policy cannot
// remove: restrict it with a permissions boundary or SCP, and CloudTrail records it.
//
// A key administrator with kms:PutKeyPolicy can rewrite the policy (as CloudFormation does on every
// deploy); that is the one administrative path to use, and it is a logged, reviewable change.

// KeyAdminActions are what key administrators may do: manage, never use. kms:CreateGrant is not
// among them (a grant lets its grantee use the key); keyAdminStatements allows it for AWS resources only.
var KeyAdminActions = []string{
	"kms:CreateAlias", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
	"kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
	"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
}

// Statement ids of the key policies' fixed statements.
const (
	KeyAdminSid       = "KeyAdministration"
	KeyAdminGrantsSid = "KeyAdministrationGrantsForAWSResources"
)

// FunctionRoleName is the fixed IAM role name of a function (see the design note above: the data
// stack's key policies name the roles before the API stack creates them). IAM names are global to
// the account, so the region is part of it.
func FunctionRoleName(fn string) *string {
	return jsii.String(APIStackName + "-" + fn + "-" + *awscdk.Aws_REGION())
}

// FunctionRoleARN is the ARN of a function's role, as the key policies name it.
func FunctionRoleARN(fn string) string {
	return "arn:" + *awscdk.Aws_PARTITION() + ":iam::" + *awscdk.Aws_ACCOUNT_ID() + ":role/" + *FunctionRoleName(fn)
}

// keyPolicy starts a key's policy with the administrators' statements only.
func keyPolicy(admin awsiam.IPrincipal) awsiam.PolicyDocument {
	doc := awsiam.NewPolicyDocument(nil)
	doc.AddStatements(
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(KeyAdminSid),
			Principals: &[]awsiam.IPrincipal{admin},
			Actions:    jsii.Strings(KeyAdminActions...),
			Resources:  jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(KeyAdminGrantsSid),
			Principals: &[]awsiam.IPrincipal{admin},
			Actions:    jsii.Strings("kms:CreateGrant"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": "true"}},
		}),
	)
	return doc
}

// keyAdmin is the principal of the key administrators: a role ARN, or the account root (then IAM
// decides who administers, and the policy still gives them no use of the key). The principal that
// deploys (the CloudFormation execution role) must be one of them: it rewrites the policies.
func keyAdmin(arn string) awsiam.IPrincipal {
	if arn == "" {
		return awsiam.NewAccountRootPrincipal()
	}
	return awsiam.NewArnPrincipal(jsii.String(arn))
}

// allowKeyUse adds to a key's policy the use one function makes of it: the same actions and
// conditions as the function's IAM statement, for that function's role only.
func allowKeyUse(key awskms.IKey, fn, sid string, actions []string, conditions map[string]any) {
	allowRolesKeyUse(key, LogicalID(fn, "")+sid, []string{fn}, actions, conditions)
}

// allowRolesKeyUse adds one statement letting the named functions' roles use a key.
func allowRolesKeyUse(key awskms.IKey, sid string, fns []string, actions []string, conditions map[string]any) {
	arns := make([]string, len(fns))
	for i, fn := range fns {
		arns[i] = FunctionRoleARN(fn)
	}
	allowPrincipalsKeyUse(key, sid, arns, actions, conditions)
}

// resourceContexts are the encryption context conditions that name a table or bucket of the data
// stack. A key policy cannot name them: the table and bucket depend on the key, so the key cannot
// depend on them (a dependency cycle). The key policy binds the role and the service
// (kms:ViaService); the role's IAM policy, which must allow the call too, binds the table or bucket.
var resourceContexts = []string{"kms:EncryptionContext:aws:dynamodb:tableName", "kms:EncryptionContext:aws:s3:arn"}

// allowPrincipalsKeyUse lets the principals with these ARNs (roles of this account) use a key.
func allowPrincipalsKeyUse(key awskms.IKey, sid string, arns []string, actions []string, conditions map[string]any) {
	c := map[string]any{}
	for op, v := range conditions {
		m, ok := v.(map[string]any)
		if !ok {
			c[op] = v
			continue
		}
		m = maps.Clone(m)
		for _, k := range resourceContexts {
			if _, ok := m[k].(*string); ok { // a reference to a data stack resource
				delete(m, k)
			}
		}
		if len(m) > 0 {
			c[op] = m
		}
	}
	var principal any = arns
	if len(arns) == 1 {
		principal = arns[0]
	}
	c["ArnEquals"] = map[string]any{"aws:PrincipalArn": principal}
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(sid),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings(actions...),
		Resources:  jsii.Strings("*"),
		Conditions: &c,
	}), jsii.Bool(false))
}

// allowKey grants KMS actions on a data stack key in the function's IAM policy and, mirrored, in the
// key's policy (both must allow).
func (g *grants) allowKey(sid string, key awskms.IKey, actions []string, conditions map[string]any) {
	g.allow(sid, actions, []*string{key.KeyArn()}, conditions)
	allowKeyUse(key, g.fn, sid, actions, conditions)
}

// allowServiceKeyUses adds the key uses that are not a function's: AWS Backup's selection role
// backing up the tables (under their keys) into the vault (under the backup key), auditors reading
// the audit trail through S3, and the ops key's services and failure queue.
func (d *DataStack) allowServiceKeyUses(backupRole string) {
	region := *awscdk.Aws_REGION()
	via := func(services ...string) map[string]any {
		v := make([]string, len(services))
		for i, s := range services {
			v[i] = s + "." + region + ".amazonaws.com"
		}
		return map[string]any{"StringEquals": map[string]any{"kms:ViaService": v}}
	}
	// AWS Backup reads the tables through DynamoDB and writes recovery points (and their offsite
	// copies) through AWS Backup; it creates grants for those resources only.
	for _, id := range []string{resources.DataKey, resources.VaultKey, resources.BackupKey} {
		allowPrincipalsKeyUse(d.Keys[id], "AWSBackupSelectionRole", []string{backupRole},
			[]string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"},
			via("dynamodb", "backup"))
		grant := via("dynamodb", "backup")
		grant["Bool"] = map[string]any{"kms:GrantIsForAWSResource": "true"}
		allowPrincipalsKeyUse(d.Keys[id], "AWSBackupSelectionRoleGrants", []string{backupRole}, []string{"kms:CreateGrant"}, grant)
	}
	// Auditors (whoever IAM lets read the audit bucket) may read the trail: decryption through S3.
	// The audit bucket is the only bucket under the data key (resourceContexts: the policy cannot name
	// it), and the trail holds no card data.
	audit := via("s3")
	audit["StringEquals"].(map[string]any)["kms:CallerAccount"] = awscdk.Aws_ACCOUNT_ID()
	d.Keys[resources.DataKey].AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ReadAuditTrailThroughS3"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings("kms:Decrypt"),
		Resources:  jsii.Strings("*"),
		Conditions: &audit,
	}), jsii.Bool(false))

	// The ops key: functions whose failed invocations go to the encrypted failure queue send through
	// SQS (Lambda sends with the function's role); EventBridge sends its targets' failures there too;
	// operators read the queue (operational data only, no card data: IAM decides who).
	var senders []string
	for _, f := range Functions {
		if f.Trigger != API && f.Trigger != APIAuthorize {
			senders = append(senders, f.Name)
		}
	}
	allowRolesKeyUse(d.OpsKey, "FunctionsSendToFailureQueue", senders, []string{"kms:GenerateDataKey", "kms:Decrypt"}, via("sqs"))
	d.OpsKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("EventBridgeToEncryptedQueue"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), jsii.Bool(false))
	readQueue := via("sqs")
	readQueue["StringEquals"].(map[string]any)["kms:CallerAccount"] = awscdk.Aws_ACCOUNT_ID()
	d.OpsKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OperatorsReadFailureQueue"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings("kms:Decrypt"),
		Resources:  jsii.Strings("*"),
		Conditions: &readQueue,
	}), jsii.Bool(false))
}
