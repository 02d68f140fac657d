package templatetests

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Stateful resources keep these logical IDs forever: a changed ID would make CloudFormation create a
// new, empty resource and orphan (retain) the old one.
func TestStatefulLogicalIDsArePinnedAndRetained(t *testing.T) {
	want := map[string]string{
		"BillingTable": "AWS::DynamoDB::Table", "VaultTable": "AWS::DynamoDB::Table", "AuditTable": "AWS::DynamoDB::Table",
		"DataKey": "AWS::KMS::Key", "VaultKey": "AWS::KMS::Key", "AuditSigningKey": "AWS::KMS::Key", "BackupKey": "AWS::KMS::Key",
		"OpsKey":      "AWS::KMS::Key",
		"AuditBucket": "AWS::S3::Bucket", "BackupBucket": "AWS::S3::Bucket", "AccessLogsBucket": "AWS::S3::Bucket",
		"UserPool": "AWS::Cognito::UserPool", "UserPoolClient": "AWS::Cognito::UserPoolClient",
		"BackupVault": "AWS::Backup::BackupVault", "BackupPlan": "AWS::Backup::BackupPlan",
	}
	data := doc[stacks.DataStackName]
	for id, typ := range want {
		r, ok := data.Resources[id]
		if !ok {
			t.Errorf("%s: no resource with this logical ID in %s", id, stacks.DataStackName)
			continue
		}
		if r.Type != typ || r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
			t.Errorf("%s: type %s, DeletionPolicy %q, UpdateReplacePolicy %q; want %s, Retain, Retain", id, r.Type, r.DeletionPolicy, r.UpdateReplacePolicy, typ)
		}
	}
	// Every definition in shared/ops/resources is in the stack under its derived ID (one source).
	for _, tb := range resources.Tables {
		if _, ok := data.Resources[stacks.LogicalID(tb.ID, "Table")]; !ok {
			t.Errorf("table %s has no %s resource", tb.ID, stacks.LogicalID(tb.ID, "Table"))
		}
	}
	for _, k := range resources.Keys {
		if _, ok := data.Resources[stacks.LogicalID(k.ID, "Key")]; !ok {
			t.Errorf("key %s has no %s resource", k.ID, stacks.LogicalID(k.ID, "Key"))
		}
	}
	for _, b := range resources.Buckets {
		if _, ok := data.Resources[stacks.LogicalID(b.ID, "Bucket")]; !ok {
			t.Errorf("bucket %s has no %s resource", b.ID, stacks.LogicalID(b.ID, "Bucket"))
		}
	}
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Cognito::UserPool"} {
		if ids := doc[stacks.APIStackName].ofType(typ); len(ids) > 0 {
			t.Errorf("stateful %s in the API stack: %v (stateful resources belong in the data stack)", typ, ids)
		}
	}
	if !*built.Data.TerminationProtection() || !*built.Offsite.TerminationProtection() {
		t.Error("the data and offsite stacks must have termination protection")
	}
}

func TestTablesFollowSharedDefinitionsAndAreProtected(t *testing.T) {
	for _, def := range resources.Tables {
		t.Run(def.ID, func(t *testing.T) {
			r := doc[stacks.DataStackName].Resources[stacks.LogicalID(def.ID, "Table")]
			p := r.Properties
			keySchema := []any{map[string]any{"AttributeName": def.HashKey.Name, "KeyType": "HASH"}}
			if def.RangeKey.Name != "" {
				keySchema = append(keySchema, map[string]any{"AttributeName": def.RangeKey.Name, "KeyType": "RANGE"})
			}
			if d := cmp.Diff(keySchema, p["KeySchema"]); d != "" {
				t.Errorf("KeySchema (-shared/ops/resources +template):\n%s", d)
			}
			var indexes []any
			for _, ix := range def.Indexes {
				indexes = append(indexes, map[string]any{
					"IndexName": ix.Name,
					"KeySchema": []any{
						map[string]any{"AttributeName": ix.HashKey.Name, "KeyType": "HASH"},
						map[string]any{"AttributeName": ix.RangeKey.Name, "KeyType": "RANGE"},
					},
					"Projection": map[string]any{"ProjectionType": "ALL"},
				})
			}
			if d := cmp.Diff(indexes, p["GlobalSecondaryIndexes"]); d != "" {
				t.Errorf("GlobalSecondaryIndexes (-shared/ops/resources +template):\n%s", d)
			}
			wantSSE := map[string]any{"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": getAtt(stacks.LogicalID(def.KeyID, "Key"), "Arn")}
			if d := cmp.Diff(wantSSE, p["SSESpecification"]); d != "" {
				t.Errorf("SSESpecification: customer-managed key %s required (-want +got):\n%s", def.KeyID, d)
			}
			if d := cmp.Diff(map[string]any{"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": 35.0}, p["PointInTimeRecoverySpecification"]); d != "" {
				t.Errorf("point-in-time recovery of 35 days required (-want +got):\n%s", d)
			}
			if p["DeletionProtectionEnabled"] != true {
				t.Error("DeletionProtectionEnabled must be true")
			}
			var wantTTL any
			if def.TTLAttribute != "" {
				wantTTL = map[string]any{"AttributeName": def.TTLAttribute, "Enabled": true}
			}
			if d := cmp.Diff(wantTTL, p["TimeToLiveSpecification"]); d != "" {
				t.Errorf("TimeToLiveSpecification (-want +got):\n%s", d)
			}
			var wantStream any
			if def.Stream {
				wantStream = map[string]any{"StreamViewType": "NEW_IMAGE"}
			}
			if d := cmp.Diff(wantStream, p["StreamSpecification"]); d != "" {
				t.Errorf("StreamSpecification (-want +got):\n%s", d)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	data := tmpl[stacks.DataStackName]
	for _, id := range []string{"DataKey", "VaultKey", "BackupKey", "OpsKey"} {
		data.HasResource(jsii.String("AWS::KMS::Key"), map[string]any{"Properties": assertions.Match_ObjectLike(&map[string]any{
			"EnableKeyRotation": true,
			"KeySpec":           assertions.Match_Absent(), // SYMMETRIC_DEFAULT
		})})
		if doc[stacks.DataStackName].Resources[id].Properties["EnableKeyRotation"] != true {
			t.Errorf("%s: rotation must be on", id)
		}
	}
	signing := doc[stacks.DataStackName].Resources["AuditSigningKey"].Properties
	if signing["KeySpec"] != "RSA_2048" || signing["KeyUsage"] != "SIGN_VERIFY" {
		t.Errorf("AuditSigningKey: KeySpec %v KeyUsage %v; want RSA_2048 SIGN_VERIFY", signing["KeySpec"], signing["KeyUsage"])
	}
}

func TestBuckets(t *testing.T) {
	data := doc[stacks.DataStackName]
	blockAll := map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}
	for _, b := range resources.Buckets {
		t.Run(b.ID, func(t *testing.T) {
			id := stacks.LogicalID(b.ID, "Bucket")
			p := data.Resources[id].Properties
			if d := cmp.Diff(blockAll, p["PublicAccessBlockConfiguration"]); d != "" {
				t.Errorf("all public access must be blocked (-want +got):\n%s", d)
			}
			if cfn.Get(p, "VersioningConfiguration", "Status") != "Enabled" {
				t.Error("versioning must be enabled")
			}
			sse := cfn.Get(cfn.List(cfn.Get(p, "BucketEncryption", "ServerSideEncryptionConfiguration"))[0], "ServerSideEncryptionByDefault")
			if b.KeyID != "" {
				want := map[string]any{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": getAtt(stacks.LogicalID(b.KeyID, "Key"), "Arn")}
				if d := cmp.Diff(want, sse); d != "" {
					t.Errorf("SSE-KMS with the %s key required (-want +got):\n%s", b.KeyID, d)
				}
				if d := cmp.Diff(map[string]any{"DestinationBucketName": ref("AccessLogsBucket"), "LogFilePrefix": b.ID + "/"}, p["LoggingConfiguration"]); d != "" {
					t.Errorf("server access logs to the access-log bucket required (-want +got):\n%s", d)
				}
			}
			rules := cfn.List(cfn.Get(p, "LifecycleConfiguration", "Rules"))
			if len(rules) == 0 || jsonOf(cfn.Get(rules[0], "Transitions")) != `[{"StorageClass":"GLACIER","TransitionInDays":90}]` {
				t.Errorf("objects must move to an archive class after 90 days; lifecycle %s", jsonOf(rules))
			}
			assertDeniesInsecureTransport(t, id)
		})
	}
	lock := data.Resources["AuditBucket"].Properties
	want := map[string]any{"ObjectLockEnabled": "Enabled", "Rule": map[string]any{"DefaultRetention": map[string]any{"Days": 365.0, "Mode": "COMPLIANCE"}}}
	if d := cmp.Diff(want, lock["ObjectLockConfiguration"]); d != "" || lock["ObjectLockEnabled"] != true {
		t.Errorf("audit bucket: Object Lock in compliance mode for 365 days required (-want +got):\n%s", d)
	}
}

// assertDeniesInsecureTransport checks the bucket policy denies every request not made over TLS, and
// any made with TLS below 1.2.
func assertDeniesInsecureTransport(t *testing.T, bucketID string) {
	t.Helper()
	var denyPlain, denyOldTLS bool
	for _, id := range doc[stacks.DataStackName].ofType("AWS::S3::BucketPolicy") {
		p := doc[stacks.DataStackName].Resources[id].Properties
		if jsonOf(p["Bucket"]) != jsonOf(ref(bucketID)) {
			continue
		}
		for _, s := range cfn.List(cfn.Get(p, "PolicyDocument", "Statement")) {
			if cfn.Get(s, "Effect") != "Deny" || jsonOf(cfn.Get(s, "Principal")) != `{"AWS":"*"}` || jsonOf(cfn.Get(s, "Action")) != `"s3:*"` {
				continue
			}
			if jsonOf(cfn.Get(s, "Condition", "Bool", "aws:SecureTransport")) == `"false"` {
				denyPlain = true
			}
			if jsonOf(cfn.Get(s, "Condition", "NumericLessThan", "s3:TlsVersion")) == `1.2` {
				denyOldTLS = true
			}
		}
	}
	if !denyPlain {
		t.Errorf("%s: bucket policy must deny s3:* when aws:SecureTransport is false", bucketID)
	}
	if !denyOldTLS {
		t.Errorf("%s: bucket policy must deny s3:* below TLS 1.2", bucketID)
	}
}

func TestBackupPlanCopiesEveryTableOffsite(t *testing.T) {
	data := doc[stacks.DataStackName]
	rules := cfn.List(cfn.Get(data.Resources["BackupPlan"].Properties, "BackupPlan", "BackupPlanRule"))
	if len(rules) != 1 {
		t.Fatalf("want one backup rule, got %s", jsonOf(rules))
	}
	copies := cfn.List(cfn.Get(rules[0], "CopyActions"))
	if len(copies) != 1 || !strings.Contains(jsonOf(copies[0]), ":backup:"+testOffsite+":") {
		t.Errorf("backups must be copied to a vault in %s; copy actions %s", testOffsite, jsonOf(copies))
	}
	if testOffsite == testRegion {
		t.Fatal("test setup: offsite region equals the primary region")
	}
	_, sel := data.byPrefix(t, "AWS::Backup::BackupSelection", "BackupPlanTables")
	got := jsonOf(sel.Properties)
	for _, tb := range resources.Tables {
		if !strings.Contains(got, `"`+stacks.LogicalID(tb.ID, "Table")+`"`) {
			t.Errorf("backup selection misses the %s table: %s", tb.ID, got)
		}
	}
	offsite := doc[stacks.OffsiteStackName].Resources[stacks.OffsiteVaultID]
	if offsite.Type != "AWS::Backup::BackupVault" || offsite.DeletionPolicy != "Retain" || cfn.Get(offsite.Properties, "LockConfiguration") == nil {
		t.Errorf("offsite vault must exist, be retained and locked: %s", jsonOf(offsite))
	}
	if *built.Offsite.Region() != testOffsite {
		t.Errorf("offsite stack in %s, want %s", *built.Offsite.Region(), testOffsite)
	}
}

func TestUserPool(t *testing.T) {
	p := doc[stacks.DataStackName].Resources[stacks.UserPoolID].Properties
	checks := []struct{ path, want string }{
		{"MfaConfiguration", `"ON"`},
		{"EnabledMfas", `["SOFTWARE_TOKEN_MFA"]`},
		{"UserPoolAddOns", `{"AdvancedSecurityMode":"ENFORCED"}`},
		{"AdminCreateUserConfig", `{"AllowAdminCreateUserOnly":true}`},
		{"Policies", `{"PasswordPolicy":{"MinimumLength":14,"PasswordHistorySize":4,"RequireLowercase":true,"RequireNumbers":true,"RequireSymbols":true,"RequireUppercase":true,"TemporaryPasswordValidityDays":1}}`},
		{"Schema", `[{"AttributeDataType":"String","Mutable":false,"Name":"customer_id","StringAttributeConstraints":{"MaxLength":"64","MinLength":"1"}}]`},
		{"DeletionProtection", `"ACTIVE"`},
	}
	for _, c := range checks {
		if got := jsonOf(p[c.path]); got != c.want {
			t.Errorf("user pool %s = %s, want %s", c.path, got, c.want)
		}
	}
	var groups []string
	for _, id := range doc[stacks.DataStackName].ofType("AWS::Cognito::UserPoolGroup") {
		groups = append(groups, doc[stacks.DataStackName].Resources[id].Properties["GroupName"].(string))
	}
	var want []string
	for _, r := range auth.Roles {
		want = append(want, string(r))
	}
	if d := cmp.Diff(want, groups, sortStrings); d != "" {
		t.Errorf("user pool groups must be the roles (-want +got):\n%s", d)
	}
	client := doc[stacks.DataStackName].Resources[stacks.UserPoolClientID].Properties
	if strings.Contains(jsonOf(client["WriteAttributes"]), "customer_id") || client["GenerateSecret"] != false {
		t.Errorf("app client must not let users write custom:customer_id: %s", jsonOf(client))
	}
}

// TestBackupBucketLifecycle: backups the backup function prunes stay recoverable for 30 days as
// noncurrent versions and then go (no version kept forever); unfinished uploads are aborted; the
// audit bucket never expires anything (Object Lock decides).
func TestBackupBucketLifecycle(t *testing.T) {
	data := doc[stacks.DataStackName]
	rules := cfn.List(cfn.Get(data.Resources["BackupBucket"].Properties, "LifecycleConfiguration", "Rules"))
	want := `[{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7},"ExpiredObjectDeleteMarker":true,"Id":"archive",` +
		`"NoncurrentVersionExpiration":{"NoncurrentDays":30},"Status":"Enabled","Transitions":[{"StorageClass":"GLACIER","TransitionInDays":90}]}]`
	if got := jsonOf(rules); got != want {
		t.Errorf("backup bucket lifecycle\n got %s\nwant %s", got, want)
	}
	audit := jsonOf(cfn.Get(data.Resources["AuditBucket"].Properties, "LifecycleConfiguration"))
	if strings.Contains(audit, "Expiration") || !strings.Contains(audit, `"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7}`) {
		t.Errorf("audit bucket lifecycle must expire nothing and abort unfinished uploads: %s", audit)
	}
}
