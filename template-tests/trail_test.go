package templatetests

import (
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// TestAuditTrailBucketPolicy: under AWSLogs/ of the audit bucket, only the shipper's and the digest's
// roles may put objects, nobody may delete, whatever IAM policies elsewhere allow; and those two
// roles have the fixed names the policy names.
func TestAuditTrailBucketPolicy(t *testing.T) {
	roleARN := "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/" + stacks.APIStackName + "-"
	want := map[string]string{
		"AuditTrailWritersOnly": `Deny | {"AWS":"*"} | s3:PutObject | <AuditBucket.Arn>/AWSLogs/* | ` +
			`{"ArnNotEquals":{"aws:PrincipalArn":["` + roleARN + `audit-shipper-<AWS::Region>","` + roleARN + `audit-digest-<AWS::Region>"]}}`,
		"AuditTrailNoDeletes": `Deny | {"AWS":"*"} | ["s3:DeleteObject","s3:DeleteObjectVersion"] | <AuditBucket.Arn>/AWSLogs/* | null`,
	}
	got := map[string]string{}
	data := doc[stacks.DataStackName]
	for _, id := range data.ofType("AWS::S3::BucketPolicy") {
		p := data.Resources[id].Properties
		if !strings.HasPrefix(text(p["Bucket"]), "<AuditBucket") {
			continue
		}
		for _, s := range cfn.List(cfn.Get(p, "PolicyDocument", "Statement")) {
			if sid, ok := cfn.Get(s, "Sid").(string); ok && want[sid] != "" {
				got[sid] = text(cfn.Get(s, "Effect")) + " | " + text(cfn.Get(s, "Principal")) + " | " + text(cfn.Get(s, "Action")) + " | " +
					text(cfn.Get(s, "Resource")) + " | " + text(cfn.Get(s, "Condition"))
			}
		}
	}
	for sid, w := range want {
		if got[sid] != w {
			t.Errorf("audit bucket statement %s:\n got %s\nwant %s", sid, got[sid], w)
		}
	}
	for _, fn := range []string{"audit-shipper", "audit-digest"} {
		_, f := function(t, fn)
		roleID := cfn.Get(f.Properties, "Role", "Fn::GetAtt").([]any)[0].(string)
		name := text(cfn.Get(api().Resources[roleID].Properties, "RoleName"))
		if name != stacks.APIStackName+"-"+fn+"-<AWS::Region>" {
			t.Errorf("role of %s is named %q, not the name the audit bucket's policy allows", fn, name)
		}
	}
}
