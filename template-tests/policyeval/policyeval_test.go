package policyeval

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

const (
	account = "111111111111"
	role    = "arn:aws:iam::111111111111:role/fn"
	other   = "arn:aws:iam::111111111111:role/other"
)

// stacks builds two templates: "data" with a key, a bucket and a table exported for "api", whose
// role policy imports them, as the CDK app's cross-stack references do.
func stacks(t *testing.T, rolePolicy, keyPolicy, bucketPolicy string) map[string]cfn.Template {
	t.Helper()
	var data, api cfn.Template
	tpl := func(s string, v *cfn.Template) {
		if err := json.Unmarshal([]byte(s), v); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
	}
	tpl(`{"Resources":{
		"Key":{"Type":"AWS::KMS::Key","Properties":{"KeyPolicy":`+keyPolicy+`}},
		"Bucket":{"Type":"AWS::S3::Bucket"},
		"BucketPolicy":{"Type":"AWS::S3::BucketPolicy","Properties":{"Bucket":{"Ref":"Bucket"},"PolicyDocument":`+bucketPolicy+`}},
		"Table":{"Type":"AWS::DynamoDB::Table"}},
	"Outputs":{
		"KeyArn":{"Value":{"Fn::GetAtt":["Key","Arn"]},"Export":{"Name":"data:KeyArn"}},
		"TableArn":{"Value":{"Fn::GetAtt":["Table","Arn"]},"Export":{"Name":"data:TableArn"}},
		"TableName":{"Value":{"Ref":"Table"},"Export":{"Name":"data:TableName"}},
		"BucketArn":{"Value":{"Fn::GetAtt":["Bucket","Arn"]},"Export":{"Name":"data:BucketArn"}}}}`, &data)
	tpl(`{"Resources":{
		"Role":{"Type":"AWS::IAM::Role","Properties":{"RoleName":{"Fn::Join":["",["f",{"Fn::Sub":"n"}]]}}},
		"Policy":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"Role"}],"PolicyDocument":`+rolePolicy+`}}}}`, &api)
	return map[string]cfn.Template{"data": data, "api": api}
}

var env = Env{Partition: "aws", Account: account, Region: "eu-west-1", Attr: func(stack, id, attr string) (string, bool) {
	switch id + "." + attr {
	case "Key.Arn":
		return "arn:aws:kms:eu-west-1:111111111111:key/k1", true
	case "Table.Arn":
		return "arn:aws:dynamodb:eu-west-1:111111111111:table/t1", true
	case "Table.Ref":
		return "t1", true
	case "Bucket.Arn":
		return "arn:aws:s3:::b1", true
	}
	return "", false
}}

const (
	keyArn   = "arn:aws:kms:eu-west-1:111111111111:key/k1"
	tableArn = "arn:aws:dynamodb:eu-west-1:111111111111:table/t1"
	noPolicy = `{"Statement":[]}`
	// rootKeyPolicy is the default key policy: the account may use the key as IAM allows.
	rootKeyPolicy = `{"Statement":[{"Effect":"Allow","Principal":{"AWS":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::",{"Ref":"AWS::AccountId"},":root"]]}},"Action":"kms:*","Resource":"*"}]}`
	// tlsOnly is the bucket policy of the templates: no plain HTTP, no TLS below 1.2.
	tlsOnly = `{"Statement":[
		{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Resource":[{"Fn::GetAtt":["Bucket","Arn"]},{"Fn::Join":["",[{"Fn::GetAtt":["Bucket","Arn"]},"/*"]]}],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},
		{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Resource":[{"Fn::GetAtt":["Bucket","Arn"]},{"Fn::Join":["",[{"Fn::GetAtt":["Bucket","Arn"]},"/*"]]}],"Condition":{"NumericLessThan":{"s3:TlsVersion":1.2}}}]}`
)

func policies(t *testing.T, rolePolicy, keyPolicy, bucketPolicy string) *Policies {
	t.Helper()
	p, err := Collect(stacks(t, rolePolicy, keyPolicy, bucketPolicy), env)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tls(ctx map[string][]string) map[string][]string {
	out := map[string][]string{"aws:SecureTransport": {"true"}, "s3:TlsVersion": {"1.2"}}
	for k, v := range ctx {
		out[k] = v
	}
	return out
}

// The cases follow the examples of the IAM User Guide ("Policy evaluation logic", "IAM JSON policy
// elements: Condition operators", "Single-valued vs. multivalued context keys") and the KMS
// Developer Guide ("Key policies": IAM policies alone do not give access to a KMS key).
func TestEvaluate(t *testing.T) {
	s3Read := `{"Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":{"Fn::Join":["",[{"Fn::ImportValue":"data:BucketArn"},"/home/*"]]}},
		{"Effect":"Allow","Action":"s3:ListBucket","Resource":{"Fn::ImportValue":"data:BucketArn"},"Condition":{"StringLike":{"s3:prefix":["home/*"]}}}]}`
	denyDelete := `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b1/*"}]}`
	kmsPurpose := `{"Statement":[{"Effect":"Allow","Action":"kms:Generate*","Resource":{"Fn::ImportValue":"data:KeyArn"},"Condition":{"StringEquals":{"kms:EncryptionContext:purpose":["a","b"]}}}]}`
	keyForRole := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:GenerateDataKey","Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/fn"}}}]}`
	leading := `{"Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem"],"Resource":{"Fn::ImportValue":"data:TableArn"},"Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["IDEM#*"]}}}]}`
	notPlain := `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"false"}}}]}`
	allowPut := `{"Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b1/*"}]}`
	writersOnly := func(writer string) string {
		return `{"Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b1/AWSLogs/*","Condition":{"ArnNotEquals":{"aws:PrincipalArn":["` + writer + `"]}}}]}`
	}
	for _, c := range []struct {
		name              string
		role, key, bucket string
		req               Request
		want              bool
	}{
		{"implicit deny: nothing allows", noPolicy, noPolicy, noPolicy,
			Request{role, "s3:GetObject", "arn:aws:s3:::b1/home/x", tls(nil)}, false},
		{"action wildcard and resource wildcard allow", s3Read, noPolicy, tlsOnly,
			Request{role, "s3:GetObject", "arn:aws:s3:::b1/home/x", tls(nil)}, true},
		{"action names are case-insensitive", s3Read, noPolicy, tlsOnly,
			Request{role, "S3:getobject", "arn:aws:s3:::b1/home/x", tls(nil)}, true},
		{"resource outside the wildcard", s3Read, noPolicy, tlsOnly,
			Request{role, "s3:GetObject", "arn:aws:s3:::b1/other/x", tls(nil)}, false},
		{"another role's request", s3Read, noPolicy, tlsOnly,
			Request{other, "s3:GetObject", "arn:aws:s3:::b1/home/x", tls(nil)}, false},
		{"bucket policy's explicit deny beats the role's allow (plain HTTP)", s3Read, noPolicy, tlsOnly,
			Request{role, "s3:GetObject", "arn:aws:s3:::b1/home/x", tls(map[string][]string{"aws:SecureTransport": {"false"}})}, false},
		{"NumericLessThan: TLS 1.0 denied", s3Read, noPolicy, tlsOnly,
			Request{role, "s3:GetObject", "arn:aws:s3:::b1/home/x", tls(map[string][]string{"s3:TlsVersion": {"1.0"}})}, false},
		{"StringLike s3:prefix inside", s3Read, noPolicy, tlsOnly,
			Request{role, "s3:ListBucket", "arn:aws:s3:::b1", tls(map[string][]string{"s3:prefix": {"home/a/"}})}, true},
		{"StringLike s3:prefix outside", s3Read, noPolicy, tlsOnly,
			Request{role, "s3:ListBucket", "arn:aws:s3:::b1", tls(map[string][]string{"s3:prefix": {"etc/"}})}, false},
		{"a missing condition key matches nothing", s3Read, noPolicy, tlsOnly,
			Request{role, "s3:ListBucket", "arn:aws:s3:::b1", tls(nil)}, false},
		{"explicit deny in the identity policy beats its allow", denyDelete, noPolicy, noPolicy,
			Request{role, "s3:DeleteObject", "arn:aws:s3:::b1/x", tls(nil)}, false},
		{"allow beside an unrelated deny", denyDelete, noPolicy, noPolicy,
			Request{role, "s3:PutObject", "arn:aws:s3:::b1/x", tls(nil)}, true},
		{"KMS: IAM alone is not enough without the key policy", kmsPurpose, noPolicy, noPolicy,
			Request{role, "kms:GenerateDataKey", keyArn, map[string][]string{"kms:EncryptionContext:purpose": {"a"}}}, false},
		{"KMS: key policy delegates to IAM through the account", kmsPurpose, rootKeyPolicy, noPolicy,
			Request{role, "kms:GenerateDataKey", keyArn, map[string][]string{"kms:EncryptionContext:purpose": {"a"}}}, true},
		{"KMS: StringEquals with another purpose", kmsPurpose, rootKeyPolicy, noPolicy,
			Request{role, "kms:GenerateDataKey", keyArn, map[string][]string{"kms:EncryptionContext:purpose": {"c"}}}, false},
		{"KMS: without the encryption context", kmsPurpose, rootKeyPolicy, noPolicy,
			Request{role, "kms:GenerateDataKeyWithoutPlaintext", keyArn, nil}, false},
		{"KMS: both policies allow, key policy by aws:PrincipalArn", kmsPurpose, keyForRole, noPolicy,
			Request{role, "kms:GenerateDataKey", keyArn, map[string][]string{"kms:EncryptionContext:purpose": {"b"}}}, true},
		{"KMS: key policy for another role", kmsPurpose, keyForRole, noPolicy,
			Request{other, "kms:GenerateDataKey", keyArn, map[string][]string{"kms:EncryptionContext:purpose": {"b"}}}, false},
		{"KMS: key policy allows an action IAM does not", kmsPurpose, rootKeyPolicy, noPolicy,
			Request{role, "kms:Decrypt", keyArn, map[string][]string{"kms:EncryptionContext:purpose": {"a"}}}, false},
		{"ForAllValues: every leading key matches", leading, noPolicy, noPolicy,
			Request{role, "dynamodb:BatchGetItem", tableArn, map[string][]string{"dynamodb:LeadingKeys": {"IDEM#1", "IDEM#2"}}}, true},
		{"ForAllValues: one leading key does not", leading, noPolicy, noPolicy,
			Request{role, "dynamodb:BatchGetItem", tableArn, map[string][]string{"dynamodb:LeadingKeys": {"IDEM#1", "CUS#2"}}}, false},
		{"ArnNotEquals: the bucket denies every principal but the writer; the writer puts", allowPut, noPolicy, writersOnly(role),
			Request{role, "s3:PutObject", "arn:aws:s3:::b1/AWSLogs/x", nil}, true},
		{"ArnNotEquals: a role IAM allows is denied by the bucket when it is not the writer", allowPut, noPolicy, writersOnly(other),
			Request{role, "s3:PutObject", "arn:aws:s3:::b1/AWSLogs/x", nil}, false},
		{"Null false: the key must be present", notPlain, noPolicy, noPolicy,
			Request{role, "s3:GetObject", "arn:aws:s3:::b1/x", map[string][]string{"s3:x-amz-server-side-encryption": {"aws:kms"}}}, true},
		{"Null false: absent key", notPlain, noPolicy, noPolicy,
			Request{role, "s3:GetObject", "arn:aws:s3:::b1/x", nil}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := policies(t, c.role, c.key, c.bucket).Evaluate(c.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.want {
				t.Errorf("allowed = %v (%s), want %v", d.Allowed, d.Reason, c.want)
			}
		})
	}
}

func TestUnknownOperatorFailsLoudly(t *testing.T) {
	_, err := Collect(stacks(t, `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`, noPolicy, noPolicy), env)
	if err == nil || !strings.Contains(err.Error(), "DateLessThan") {
		t.Fatalf("err = %v, want the unsupported operator named", err)
	}
	_, err = Collect(stacks(t, `{"Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}]}`, noPolicy, noPolicy), env)
	if err == nil || !strings.Contains(err.Error(), "NotAction") {
		t.Fatalf("err = %v, want NotAction refused", err)
	}
}

func TestResolvesIntrinsics(t *testing.T) {
	p := policies(t, `{"Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":{"Fn::ImportValue":"data:KeyArn"},
		"Condition":{"StringEquals":{"kms:EncryptionContext:aws:dynamodb:tableName":{"Fn::ImportValue":"data:TableName"},
		"kms:ViaService":{"Fn::Sub":"dynamodb.${AWS::Region}.amazonaws.com"}}}},
		{"Effect":"Allow","Action":"dynamodb:Query","Resource":{"Fn::Join":["",[{"Fn::ImportValue":"data:TableArn"},"/index/",{"Fn::Select":[1,{"Fn::Split":[",","a,by-time"]}]}]]}}]}`, noPolicy, noPolicy)
	st := p.Identity["arn:aws:iam::111111111111:role/fn"]
	if len(st) != 2 {
		t.Fatalf("role statements: %+v", p.Identity)
	}
	if st[0].Resource[0] != keyArn || st[0].Condition["StringEquals"]["kms:encryptioncontext:aws:dynamodb:tablename"][0] != "t1" ||
		st[0].Condition["StringEquals"]["kms:viaservice"][0] != "dynamodb.eu-west-1.amazonaws.com" {
		t.Errorf("statement 1: %+v", st[0])
	}
	if st[1].Resource[0] != tableArn+"/index/by-time" {
		t.Errorf("statement 2: %+v", st[1])
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*c", "abbc", true}, {"a*c", "abcd", false}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"arn:aws:s3:::b/AWSLogs/1/*", "arn:aws:s3:::b/AWSLogs/1/x/y", true}, {"arn:aws:s3:::b/AWSLogs/1/*", "arn:aws:s3:::b/AWSLogs/2/x", false},
		{"*a*b", "xaxxb", true}, {"*a*b", "xaxxbc", false},
	} {
		if got := Glob(c.p, c.s); got != c.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}
