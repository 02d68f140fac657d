package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// auditStreamMaxRecordAge is the audit stream's maximum record age, the one the digest's
// reconciliation counts on (shared/ops/audittrail.StreamMaxRecordAge).
func auditStreamMaxRecordAge() awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(resources.AuditStreamMaxRecordAge.Seconds()))
}

// auditWriters are the functions whose roles may write under AWSLogs/ in the audit bucket: the
// shipper (log files) and the digest (digest files).
var auditWriters = []string{"audit-shipper", "audit-digest"}

// protectAuditTrail adds to the audit bucket's policy what no IAM policy elsewhere can loosen: no
// principal but the shipper and digest roles puts objects under AWSLogs/, and nobody deletes there
// (Object Lock keeps versions; this also stops delete markers, which would hide a file from readers).
func (d *DataStack) protectAuditTrail() {
	b := d.Buckets[resources.AuditBucket]
	trail := b.ArnForObjects(jsii.String(resources.TrailPrefix + "*"))
	var writers []*string
	for _, w := range auditWriters {
		// Roles have fixed names (FunctionRoleName), so this policy in the data stack can name roles of
		// the API stack, which depends on it, without a reference back.
		writers = append(writers, jsii.String(FunctionRoleARN(w)))
	}
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AuditTrailWritersOnly"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  &[]*string{trail},
		Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": writers}},
	}))
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AuditTrailNoDeletes"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("s3:DeleteObject", "s3:DeleteObjectVersion"),
		Resources:  &[]*string{trail},
	}))
}
