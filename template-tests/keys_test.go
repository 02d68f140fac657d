package templatetests

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// keyIDs are the logical IDs of every KMS key of the data stack (the offsite stack has one more).
func keyIDs() []string {
	ids := []string{stacks.OpsKeyID}
	for _, k := range resources.Keys {
		ids = append(ids, stacks.LogicalID(k.ID, "Key"))
	}
	sort.Strings(ids)
	return ids
}

// keyStatements returns the policy statements of the key with this logical ID, in whichever stack.
func keyStatements(t *testing.T, keyID string) []any {
	t.Helper()
	for _, tpl := range doc {
		if k, ok := tpl.Resources[keyID]; ok && k.Type == "AWS::KMS::Key" {
			return cfn.List(cfn.Get(k.Properties, "KeyPolicy", "Statement"))
		}
	}
	t.Fatalf("no key %s", keyID)
	return nil
}

var useActions = regexp.MustCompile(`^kms:(\*|Encrypt|Decrypt|ReEncrypt.*|GenerateDataKey.*|Sign|GenerateMac|CreateGrant)$`)

// roleOf names the function whose role an aws:PrincipalArn value is ("" if it is no function role).
var roleARN = regexp.MustCompile(`^arn:<AWS::Partition>:iam::<AWS::AccountId>:role/` + regexp.QuoteMeta(stacks.APIStackName) + `-(.+)-<AWS::Region>$`)

// keyUsers lists, for one key, the functions its policy lets use it, with the actions of each.
func keyUsers(t *testing.T, keyID string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, s := range keyStatements(t, keyID) {
		for _, arn := range cfn.List(cfn.Get(s, "Condition", "ArnEquals", "aws:PrincipalArn")) {
			m := roleARN.FindStringSubmatch(text(arn))
			if m == nil {
				continue
			}
			for _, a := range cfn.List(cfn.Get(s, "Action")) {
				out[m[1]] = append(out[m[1]], a.(string))
			}
		}
	}
	for k := range out {
		sort.Strings(out[k])
		out[k] = uniq(out[k])
	}
	return out
}

// TestKeyAdministratorsCannotUseKeys is DESIGN §6.8: no key keeps the default "account root: kms:*";
// the administrators may manage a key but never encrypt, decrypt, generate data keys, re-encrypt or
// sign with it, and may create grants only for AWS resources (a table, a vault, a bucket).
func TestKeyAdministratorsCannotUseKeys(t *testing.T) {
	all := doc[stacks.OffsiteStackName].ofType("AWS::KMS::Key")
	if d := cmp.Diff([]string{stacks.OffsiteKeyID}, all); d != "" {
		t.Errorf("offsite keys (-want +template):\n%s", d)
	}
	if got := doc[stacks.DataStackName].ofType("AWS::KMS::Key"); !slices.Equal(got, keyIDs()) {
		t.Errorf("data stack keys %v, want %v", got, keyIDs())
	}
	for _, id := range append(keyIDs(), all...) {
		t.Run(id, func(t *testing.T) {
			// KMS refuses a key policy over 32 KB; each function use is a statement of its own. This is the
			// template's text, whose intrinsics ({"Fn::Join": [... {"Ref": "AWS::AccountId"} ...]}) are
			// longer than the ARNs they resolve to, so the deployed policy is smaller still; 30 KB keeps a
			// margin below the limit.
			if n := len(jsonOf(map[string]any{"Statement": keyStatements(t, id)})); n > 30<<10 {
				t.Errorf("key policy of %d bytes: KMS allows 32 KB, keep a margin", n)
			} else {
				t.Logf("key policy: %d bytes", n)
			}
			sids := map[string]bool{}
			for _, s := range keyStatements(t, id) {
				sid, _ := cfn.Get(s, "Sid").(string)
				if sids[sid] {
					t.Errorf("statement id %q twice", sid)
				}
				sids[sid] = true
				for _, a := range cfn.List(cfn.Get(s, "Action")) {
					if a == "kms:*" {
						t.Errorf("kms:* granted: %s", text(s))
					}
				}
				root := strings.HasSuffix(text(cfn.Get(s, "Principal", "AWS")), ":root")
				hasUse := slices.ContainsFunc(cfn.List(cfn.Get(s, "Action")), func(a any) bool { return useActions.MatchString(a.(string)) })
				cond := jsonOf(cfn.Get(s, "Condition"))
				// The account root may use a key only through a condition that names the principal
				// (a function role) or a service and the bucket or queue it serves.
				if root && hasUse && !strings.Contains(cond, "aws:PrincipalArn") && !strings.Contains(cond, "kms:ViaService") && !strings.Contains(cond, "kms:GrantIsForAWSResource") {
					t.Errorf("the account may use the key without naming who: %s", text(s))
				}
			}
			var admin, grants any
			for _, s := range keyStatements(t, id) {
				switch cfn.Get(s, "Sid") {
				case stacks.KeyAdminSid:
					admin = s
				case stacks.KeyAdminGrantsSid:
					grants = s
				}
			}
			if admin == nil || grants == nil {
				t.Fatalf("no key administrator statements (%s, %s)", stacks.KeyAdminSid, stacks.KeyAdminGrantsSid)
			}
			var actions []string
			for _, a := range cfn.List(cfn.Get(admin, "Action")) {
				actions = append(actions, a.(string))
				if useActions.MatchString(a.(string)) {
					t.Errorf("key administrators may use the key: %s", a)
				}
			}
			if d := cmp.Diff(stacks.KeyAdminActions, actions, sortStrings); d != "" {
				t.Errorf("administrator actions (-want +template):\n%s", d)
			}
			if text(cfn.Get(admin, "Principal", "AWS")) != "arn:<AWS::Partition>:iam::"+testAccount+":root" || cfn.Get(admin, "Condition") != nil {
				t.Errorf("administrators (default: the account root, through IAM): %s", text(admin))
			}
			if got := text(cfn.Get(grants, "Action")) + " " + text(cfn.Get(grants, "Condition")); got != `kms:CreateGrant {"Bool":{"kms:GrantIsForAWSResource":"true"}}` {
				t.Errorf("administrators' grants must be for AWS resources only: %s", got)
			}
		})
	}
}

// TestKeyUsersAreTheFunctionsThatNeedThem: each key's policy names, as users, exactly the function
// roles whose IAM policy uses that key, and the role names it names are the roles' real names.
func TestKeyUsersAreTheFunctionsThatNeedThem(t *testing.T) {
	for _, f := range stacks.Functions {
		_, fn := function(t, f.Name)
		roleID := cfn.Get(fn.Properties, "Role", "Fn::GetAtt").([]any)[0].(string)
		if got := text(api().Resources[roleID].Properties["RoleName"]); got != stacks.APIStackName+"-"+f.Name+"-<AWS::Region>" {
			t.Errorf("role of %s is named %q; the key policies name %s-%s-<AWS::Region>", f.Name, got, stacks.APIStackName, f.Name)
		}
	}
	for _, key := range keyIDs() {
		t.Run(key, func(t *testing.T) {
			var want []string
			for _, f := range stacks.Functions {
				if got, _ := policyOf(t, f.Name); len(got[key]) > 0 {
					want = append(want, f.Name)
				}
			}
			got := slices.Collect(maps.Keys(keyUsers(t, key)))
			if d := cmp.Diff(want, got, sortStrings); d != "" {
				t.Errorf("functions allowed by the key policy (-IAM policies +key policy):\n%s", d)
			}
		})
	}
}

// TestOnlyPaymentsDecryptsCardData is DESIGN §6.1 and §6.8 in the vault key's policy: direct Decrypt
// (not through DynamoDB) is allowed to payments for card data, to tokens for the fingerprint key and
// to the restore test for the backup canary; nothing else, and no one else for card-data.
func TestOnlyPaymentsDecryptsCardData(t *testing.T) {
	direct := map[string]map[string][]string{} // function → action → purposes
	for _, s := range keyStatements(t, "VaultKey") {
		if strings.Contains(jsonOf(cfn.Get(s, "Condition")), "kms:ViaService") {
			continue
		}
		m := roleARN.FindStringSubmatch(text(cfn.Get(s, "Condition", "ArnEquals", "aws:PrincipalArn")))
		if m == nil {
			continue
		}
		for _, a := range cfn.List(cfn.Get(s, "Action")) {
			if direct[m[1]] == nil {
				direct[m[1]] = map[string][]string{}
			}
			for _, p := range cfn.List(cfn.Get(s, "Condition", "StringEquals", "kms:EncryptionContext:"+stacks.EncryptionContextPurpose)) {
				direct[m[1]][a.(string)] = append(direct[m[1]][a.(string)], p.(string))
			}
		}
	}
	cardData, fingerprint := vault.CardDataContext[stacks.EncryptionContextPurpose], vault.FingerprintContext[stacks.EncryptionContextPurpose]
	want := map[string]map[string][]string{
		routes.Tokens:   {"kms:GenerateDataKey": {cardData, fingerprint}, "kms:Decrypt": {fingerprint}},
		routes.Payments: {"kms:Decrypt": {cardData}},
		"restore-test":  {"kms:Decrypt": {backup.CanaryPurpose}},
		"backup":        {"kms:GenerateDataKeyWithoutPlaintext": {backup.CanaryPurpose}},
	}
	if d := cmp.Diff(want, direct, sortStrings); d != "" {
		t.Errorf("direct use of the vault key (-want +key policy):\n%s", d)
	}
}

// TestSigningKeyOnlySignsForTheDigest: only audit-digest may sign with the audit-signing key, with
// the algorithm and message type shared/ops/audittrail uses.
func TestSigningKeyOnlySignsForTheDigest(t *testing.T) {
	users := keyUsers(t, "AuditSigningKey")
	if d := cmp.Diff(map[string][]string{"audit-digest": {"kms:GetPublicKey", "kms:Sign"}}, users); d != "" {
		t.Errorf("users of the audit-signing key (-want +key policy):\n%s", d)
	}
	for _, s := range keyStatements(t, "AuditSigningKey") {
		if slices.Contains(cfn.List(cfn.Get(s, "Action")), any("kms:Sign")) {
			if c := text(cfn.Get(s, "Condition", "StringEquals")); c != `{"kms:MessageType":"RAW","kms:SigningAlgorithm":"RSASSA_PKCS1_V1_5_SHA_256"}` {
				t.Errorf("kms:Sign must be pinned to the digest's algorithm: %s", c)
			}
		}
	}
}

// TestTableAndBucketKeyUseGoesThroughTheService: what a function may do with the data and backup
// keys (other than its stated direct purposes) it may do only through DynamoDB or S3.
func TestTableAndBucketKeyUseGoesThroughTheService(t *testing.T) {
	for _, key := range []string{"DataKey", "VaultKey", "BackupKey"} {
		for _, s := range keyStatements(t, key) {
			c := cfn.Get(s, "Condition")
			if cfn.Get(c, "ArnEquals", "aws:PrincipalArn") == nil {
				continue
			}
			if cfn.Get(c, "StringEquals", "kms:ViaService") == nil && cfn.Get(c, "StringEquals", "kms:EncryptionContext:"+stacks.EncryptionContextPurpose) == nil &&
				!slices.Contains(cfn.List(cfn.Get(s, "Action")), any("kms:DescribeKey")) {
				t.Errorf("%s: use without a service or purpose condition: %s", key, text(s))
			}
		}
	}
}

// TestWAFKeepsTheBodyContract is DESIGN §5 at the edge: a body up to 64 KiB is never refused for its
// size by the WAF (the Common rule set's 8 KB SizeRestrictions_BODY only counts), API Gateway forwards
// bodies of that size whole to the managed rules, and a larger body reaches the function, which
// answers 413 payload_too_large and audits the refusal.
func TestWAFKeepsTheBodyContract(t *testing.T) {
	_, acl := api().byPrefix(t, "AWS::WAFv2::WebACL", stacks.WebACLID)
	limit := cfn.Get(acl.Properties, "AssociationConfig", "RequestBody", "API_GATEWAY", "DefaultSizeInspectionLimit")
	if limit != stacks.WAFBodyInspectionLimit || stacks.WAFBodyInspectionLimit != "KB_64" || httpapi.MaxBodyBytes > 64<<10 {
		t.Errorf("API Gateway must forward %d bytes of a body to the WAF: inspection limit %v", httpapi.MaxBodyBytes, limit)
	}
	counted := false
	for _, r := range cfn.List(acl.Properties["Rules"]) {
		if cfn.Get(r, "Statement", "ManagedRuleGroupStatement", "Name") == "AWSManagedRulesCommonRuleSet" {
			for _, o := range cfn.List(cfn.Get(r, "Statement", "ManagedRuleGroupStatement", "RuleActionOverrides")) {
				if cfn.Get(o, "Name") == "SizeRestrictions_BODY" && cfn.Get(o, "ActionToUse", "Count") != nil {
					counted = true
				}
			}
		}
		// No rule of our own refuses a body for its size below the contract's limit.
		if sc := cfn.Get(r, "Statement", "SizeConstraintStatement"); sc != nil && cfn.Get(sc, "FieldToMatch", "Body") != nil {
			if size, _ := cfn.Get(sc, "Size").(float64); size < float64(httpapi.MaxBodyBytes) {
				t.Errorf("rule %v refuses bodies of %v bytes", cfn.Get(r, "Name"), size)
			}
		}
	}
	if !counted {
		t.Error("SizeRestrictions_BODY (8 KB) must only count")
	}
}

// TestProductionStageRefusesTheSandbox: a stage that is not explicitly a test stage cannot be
// synthesized with the sandbox processor (the default), with a message saying what to do; the
// test stage tells the payments function its stage, so it refuses the sandbox at cold start too.
func TestProductionStageRefusesTheSandbox(t *testing.T) {
	for _, stage := range []string{"", stacks.StageProduction} {
		for _, proc := range []string{"", processor.SandboxName} {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(t.TempDir(), "cdk.out")), Context: stacks.FeatureFlags()})
			_, err := stacks.Build(app, stacks.AppProps{
				Account: testAccount, Region: testRegion, OffsiteRegion: testOffsite, BuildDir: os.TempDir(),
				Stage: stage, PaymentProcessor: proc,
			})
			if err == nil || !strings.Contains(err.Error(), "sandbox") || !strings.Contains(err.Error(), "stage=test") {
				t.Errorf("stage %q, processor %q: %v; want a refusal naming the sandbox and -c stage=test", stage, proc, err)
			}
		}
	}
	_, fn := function(t, routes.Payments)
	env := cfn.Get(fn.Properties, "Environment", "Variables")
	if cfn.Get(env, stacks.EnvStage) != stacks.StageTest || cfn.Get(env, stacks.EnvPaymentProcessor) != processor.SandboxName {
		t.Errorf("payments environment: %s", text(env))
	}
	if err := processor.Check(processor.SandboxName, stacks.StageProduction); err == nil {
		t.Error("the payments function must refuse the sandbox under STAGE=production")
	}
}
