package stacks

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Wildcard is a "*" in an IAM Allow statement that is there on purpose, with the reason.
type Wildcard struct {
	// Action is a wildcard action ("kms:ReEncrypt*"); StarResourceAction an action allowed on
	// Resource "*"; ResourceSuffix the end of a resource ARN that ends in a wildcard ("/index/*").
	Action, StarResourceAction, ResourceSuffix string
	Reason                                     string
}

// Wildcards are every wildcard the function policies may hold. The template tests scan all policies
// and fail on any wildcard not listed here; the AwsSolutions-IAM5 suppressions are made from it.
var Wildcards = []Wildcard{
	{StarResourceAction: "xray:PutTraceSegments", Reason: "X-Ray has no resource-level permissions; added by Lambda active tracing."},
	{StarResourceAction: "xray:PutTelemetryRecords", Reason: "X-Ray has no resource-level permissions; added by Lambda active tracing."},
	{StarResourceAction: "dynamodb:ListStreams", Reason: "dynamodb:ListStreams has no resource-level permissions; the stream itself is named in the audit shipper's read statement."},
	{Action: "kms:GenerateDataKey*", Reason: "SQS SSE-KMS: sending to the encrypted failure queue (CDK queue grant), on the ops key only."},
	{Action: "kms:ReEncrypt*", Reason: "SQS SSE-KMS: sending to the encrypted failure queue (CDK queue grant), on the ops key only."},
	{ResourceSuffix: "/index/*", Reason: "The function's own table's indexes (queries by GSI); granted by table.Grant on that table only."},
	{StarResourceAction: "dynamodb:ListBackups", Reason: "dynamodb:ListBackups has no resource-level permissions (it lists the account's backups, no data); the backup function then deletes only its tables' own backups (table/<name>/backup/*)."},
	{ResourceSuffix: "/AWSLogs/<AWS::AccountId>/" + resources.TrailService + "/*", Reason: "The audit shipper writes log files under AWSLogs/<this account>/CloudTrail/ of the audit bucket only (CloudTrail layout); Object Lock keeps each one."},
	{ResourceSuffix: "/AWSLogs/<AWS::AccountId>/" + resources.TrailDigestService + "/*", Reason: "The audit digest writes digest files under AWSLogs/<this account>/CloudTrail-Digest/ of the audit bucket only."},
	{ResourceSuffix: "/AWSLogs/<AWS::AccountId>/*", Reason: "The audit digest reads this account's log and digest files under AWSLogs/<this account>/ of the audit bucket (to hash them and chain to the previous digest)."},
	{ResourceSuffix: "/backup/*", Reason: "The backup function deletes expired native backups of its own three tables only (table/<name>/backup/*)."},
	{ResourceSuffix: "/" + resources.BackupsPrefix + "*", Reason: "Objects under the backups/ prefix of the backup bucket only."},
	{ResourceSuffix: "/" + resources.ErasuresPrefix + "*", Reason: "The data-rights function puts erasure ledger entries under the erasures/ prefix of the backup bucket only (one object per erasure, named by customer id and time)."},
	{ResourceSuffix: ":table/" + RestoreTestTablePrefix + "*", Reason: "The restore test creates a fresh table per run; it may only touch tables with this fixed prefix."},
}

// Suppression is a cdk-nag finding accepted with a reason. docs/compliance.md lists each one (a
// template test checks that it does).
type Suppression struct {
	// Stack is the stack's name; Path a construct path inside it ("" for the whole stack).
	Stack, Path string
	Rule        string
	// AppliesTo narrows the suppression to these findings (IAM4/IAM5), as cdk-nag reports them.
	AppliesTo []string
	Reason    string
}

// Suppressions are every accepted cdk-nag finding.
var Suppressions = []Suppression{
	{Stack: APIStackName, Rule: "AwsSolutions-COG4",
		Reason: "Methods use the Lambda REQUEST authorizer, which verifies the Cognito user pool's JWTs (issuer, audience, RS256 against the pool's JWKS) and also requires a role group and the MFA claim, and audits every refusal; a Cognito authorizer can do neither of the last two."},
	{Stack: APIStackName, Path: "/VaultbillApi/Api/CloudWatchRole/Resource", Rule: "AwsSolutions-IAM4",
		AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
		Reason:    "API Gateway's account CloudWatch role needs AmazonAPIGatewayPushToCloudWatchLogs (logs only, not a FullAccess policy) to write execution logs."},
	{Stack: APIStackName, Path: "/VaultbillApi/Failures/Resource", Rule: "AwsSolutions-SQS3",
		Reason: "The failure queue is itself the dead-letter destination (stream on-failure, asynchronous on-failure, EventBridge target DLQ); any message in it raises FailureQueueAlarm and is kept 14 days."},
	{Stack: APIStackName, Path: "/VaultbillApi/Api/DeploymentStage.live/Resource", Rule: "PCI.DSS.321-APIGWCacheEnabledAndEncrypted",
		Reason: "Response caching is off on purpose: responses are per principal and carry customer data. With no cache there is nothing to encrypt."},
	{Stack: APIStackName, Path: "/VaultbillApi/Api/DeploymentStage.live/Resource", Rule: "PCI.DSS.321-APIGWSSLEnabled",
		Reason: "The rule asks for a client certificate toward HTTP backends; every integration is a Lambda proxy integration (no HTTP backend, no TLS hop to authenticate). Clients reach the API over TLS 1.2+ only."},
	{Stack: APIStackName, Rule: "PCI.DSS.321-IAMNoInlinePolicy",
		Reason: "Each function's policy is generated by CDK grants for its one role; a shared managed policy would widen, not narrow, access. The template tests check each policy against the function table."},
	{Stack: APIStackName, Rule: "PCI.DSS.321-LambdaInsideVPC",
		Reason: "The functions call only AWS APIs (DynamoDB, KMS, S3, X-Ray) over TLS with SigV4 and fetch the Cognito JWKS; they open no listener. Card data lives in DynamoDB under KMS. Segmentation is by IAM: one role per function naming only its own resources. Running in a VPC with endpoints is listed as a hardening option in docs/compliance.md."},
	{Stack: DataStackName, Path: "/VaultbillData/BackupPlan/Tables/Role/Resource", Rule: "AwsSolutions-IAM4",
		AppliesTo: []string{
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
		},
		Reason: "AWS Backup's documented service role policies for backup and restore jobs, used only by the backup selection's role."},
	{Stack: DataStackName, Rule: "PCI.DSS.321-S3BucketReplicationEnabled",
		Reason: "Offsite copies of the tables go to another region through the AWS Backup copy rule; audit objects are immutable under Object Lock (compliance mode) and versioned. Cross-region replication of the buckets needs a matching Object Lock bucket in the offsite region and is listed as a follow-up in docs/compliance.md."},
	{Stack: DataStackName, Path: "/VaultbillData/AccessLogsBucket/Resource", Rule: "PCI.DSS.321-S3DefaultEncryptionKMS",
		Reason: "S3 server access log delivery only supports SSE-S3 on the target bucket; the access-log bucket is SSE-S3, versioned, TLS-only and private."},
}

// iam5 turns the Wildcards into the AwsSolutions-IAM5 findings they account for.
func iam5() []any {
	out := []any{"Resource::*"}
	for _, w := range Wildcards {
		switch {
		case w.Action != "":
			out = append(out, "Action::"+w.Action)
		case w.ResourceSuffix != "":
			out = append(out, &cdknag.RegexAppliesTo{Regex: jsii.String("/^Resource::.*" + regexp.QuoteMeta(w.ResourceSuffix) + "$/")})
		}
	}
	return out
}

// applyChecks runs the cdk-nag packs over every stack at synth, writing their reports (CSV and JSON)
// next to the templates, and records the suppressions.
func applyChecks(app awscdk.App, s Stacks) {
	props := func() *cdknag.NagPackProps {
		return &cdknag.NagPackProps{
			Reports:       jsii.Bool(true),
			ReportFormats: &[]cdknag.NagReportFormat{cdknag.NagReportFormat_CSV, cdknag.NagReportFormat_JSON},
			Verbose:       jsii.Bool(true),
		}
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(props()), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewPCIDSS321Checks(props()), nil)

	byName := map[string]awscdk.Stack{DataStackName: s.Data.Stack, APIStackName: s.API.Stack, OffsiteStackName: s.Offsite.Stack}
	iam5Reason := "Each wildcard is listed with its reason in stacks.Wildcards (docs/compliance.md); the template tests fail on any other."
	cdknag.NagSuppressions_AddStackSuppressions(s.API.Stack, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"), Reason: jsii.String(iam5Reason), AppliesTo: func() *[]any { a := iam5(); return &a }(),
	}}, nil)
	for _, sup := range Suppressions {
		ns := &cdknag.NagPackSuppression{Id: jsii.String(sup.Rule), Reason: jsii.String(sup.Reason)}
		if len(sup.AppliesTo) > 0 {
			applies := make([]any, len(sup.AppliesTo))
			for i, a := range sup.AppliesTo {
				applies[i] = a
			}
			ns.AppliesTo = &applies
		}
		stack := byName[sup.Stack]
		if sup.Path == "" {
			cdknag.NagSuppressions_AddStackSuppressions(stack, &[]*cdknag.NagPackSuppression{ns}, nil)
		} else {
			cdknag.NagSuppressions_AddResourceSuppressionsByPath(stack, jsii.String(sup.Path), &[]*cdknag.NagPackSuppression{ns}, nil)
		}
	}
}

// Errors lists the error annotations of every stack in the assembly (unsuppressed cdk-nag errors and
// construct errors), as "stack id: message".
func Errors(asm cxapi.CloudAssembly) []string {
	var out []string
	for _, st := range *asm.Stacks() {
		for _, m := range *st.Messages() {
			if m.Level == cxapi.SynthesisMessageLevel_ERROR {
				out = append(out, fmt.Sprintf("%s %s: %v", *st.StackName(), *m.Id, m.Entry.Data))
			}
		}
	}
	return out
}
