package templatetests

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/httpapi"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/hostedpage"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
	"github.com/vaultbill/vaultbill/shared/ops/auditreview"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func api() template { return doc[stacks.APIStackName] }

// function returns the logical ID and resource of one function of the table.
func function(t *testing.T, name string) (string, resource) {
	t.Helper()
	return api().byPrefix(t, "AWS::Lambda::Function", stacks.FunctionID(name))
}

func TestFunctionsMatchTheTable(t *testing.T) {
	if got := len(api().ofType("AWS::Lambda::Function")); got != len(stacks.Functions) {
		t.Errorf("%d functions in the template, %d in the table", got, len(stacks.Functions))
	}
	known := map[string]bool{"LOG_LEVEL": true}
	for _, n := range []string{config.EnvBillingTable, config.EnvVaultTable, config.EnvAuditTable, config.EnvDataKey,
		config.EnvVaultKey, config.EnvAuditSigningKey, config.EnvBackupKey, config.EnvAuditBucket, config.EnvBackupBucket,
		config.EnvJWTIssuer, config.EnvJWTAudience, config.EnvJWKSURL, config.EnvAccount, config.EnvBackupRetentionDays,
		config.EnvMFAPoolIssuers, config.EnvUserPoolID,
		auditreview.EnvTopicARN, auditreview.EnvAuthFailures, auditreview.EnvAuthWindow, auditreview.EnvDetokenize,
		auditreview.EnvDetokenizeWindow, stacks.EnvPaymentProcessor, stacks.EnvStage,
		hostedpage.EnvCheckURL} {
		known[n] = true
	}
	for _, f := range stacks.Functions {
		t.Run(f.Name, func(t *testing.T) {
			_, fn := function(t, f.Name)
			p := fn.Properties
			want := map[string]any{
				"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap",
				"MemorySize": float64(f.MemoryMB), "Timeout": f.Timeout.Seconds(), "TracingConfig": map[string]any{"Mode": "Active"},
			}
			got := map[string]any{}
			for k := range want {
				got[k] = p[k]
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if f.Trigger == stacks.AuditStream && f.Timeout >= audittrail.DefaultLag {
				t.Errorf("timeout %s: a log file must be written before the digest lag (%s) has passed", f.Timeout, audittrail.DefaultLag)
			}
			var reserved any
			if f.Reserved > 0 {
				reserved = float64(f.Reserved)
			}
			if p["ReservedConcurrentExecutions"] != reserved {
				t.Errorf("ReservedConcurrentExecutions %v, want %v", p["ReservedConcurrentExecutions"], reserved)
			}
			for name := range cfn.Get(p, "Environment", "Variables").(map[string]any) {
				if !known[name] {
					t.Errorf("environment variable %s is not a shared/api/config name", name)
				}
			}
			logID, _ := cfn.Get(p, "LoggingConfig", "LogGroup", "Ref").(string)
			logs := api().Resources[logID]
			if logs.Type != "AWS::Logs::LogGroup" || logs.Properties["RetentionInDays"] != 365.0 || !strings.Contains(jsonOf(logs.Properties["KmsKeyId"]), "OpsKey") {
				t.Errorf("log group %s must keep 365 days and be encrypted with the ops key: %s", logID, jsonOf(logs))
			}
		})
	}
}

// statefulIDs are the logical IDs a policy statement can name (through cross-stack exports).
var statefulIDs = []string{"BillingTable", "VaultTable", "AuditTable", "DataKey", "VaultKey", "AuditSigningKey", "BackupKey",
	"OpsKey", "AuditBucket", "BackupBucket", "AccessLogsBucket", "Alerts"}

// access is what one function's policy touches: per stateful resource, the actions allowed on it.
type access map[string][]string

// policyOf collects a function role's Allow statements by the stateful resource they name.
func policyOf(t *testing.T, name string) (access, []any) {
	t.Helper()
	_, fn := function(t, name)
	roleID := cfn.Get(fn.Properties, "Role", "Fn::GetAtt").([]any)[0].(string)
	out := access{}
	var statements []any
	for _, id := range api().ofType("AWS::IAM::Policy") {
		p := api().Resources[id].Properties
		if jsonOf(p["Roles"]) != jsonOf([]any{ref(roleID)}) {
			continue
		}
		for _, s := range cfn.List(cfn.Get(p, "PolicyDocument", "Statement")) {
			statements = append(statements, s)
			res := jsonOf(cfn.Get(s, "Resource"))
			for _, sid := range statefulIDs {
				if regexp.MustCompile(`\b(ExportsOutput(FnGetAtt|Ref))?` + sid + `[A-Z0-9]`).MatchString(res) {
					for _, a := range cfn.List(cfn.Get(s, "Action")) {
						out[sid] = append(out[sid], a.(string))
					}
				}
			}
		}
	}
	for k := range out {
		sort.Strings(out[k])
		out[k] = uniq(out[k])
	}
	return out, statements
}

func uniq(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

var (
	tableKeyRead  = []string{"kms:Decrypt"}
	tableKeyWrite = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"}
	appendAudit   = []string{"dynamodb:PutItem"}
	idempotency   = []string{"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:PutItem"}
	readWrite     = []string{"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
	read          = []string{"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:Query"}
	backupRead    = []string{"dynamodb:CreateBackup", "dynamodb:DeleteBackup", "dynamodb:DescribeTable", "dynamodb:Scan"}
	publish       = []string{"sns:Publish"}
	snsKey        = []string{"kms:Decrypt", "kms:GenerateDataKey"}
)

func union(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.Strings(out)
	return uniq(out)
}

// TestFunctionPoliciesNameOnlyWhatTheFunctionMayTouch is DESIGN §6 rule 6 over the real template:
// each function's policy, resource by resource and action by action. A function missing from a row
// may not touch that resource at all (invoices has no statement on the vault table or vault key).
func TestFunctionPoliciesNameOnlyWhatTheFunctionMayTouch(t *testing.T) {
	want := map[string]access{
		"authorizer":    {"AuditTable": appendAudit, "BillingTable": {"dynamodb:GetItem"}, "DataKey": tableKeyWrite},
		routes.Me:       {"AuditTable": appendAudit, "BillingTable": idempotency, "DataKey": tableKeyWrite},
		routes.Invoices: {"AuditTable": appendAudit, "BillingTable": union(idempotency, readWrite), "DataKey": tableKeyWrite},
		// Tokens updates only its RATE# card-attempt counters (TestCardAttemptCountersOnlyUnderTheirPrefix).
		routes.Tokens: {"AuditTable": appendAudit, "BillingTable": union(idempotency, read, []string{"dynamodb:UpdateItem"}), "DataKey": tableKeyWrite,
			"VaultTable": readWrite, "VaultKey": tableKeyWrite},
		routes.Payments: {"AuditTable": appendAudit, "BillingTable": union(idempotency, readWrite), "DataKey": tableKeyWrite,
			"VaultTable": {"dynamodb:GetItem"}, "VaultKey": tableKeyRead},
		routes.AuditQuery: {"AuditTable": union(appendAudit, []string{"dynamodb:Query"}), "BillingTable": idempotency, "DataKey": tableKeyWrite},
		// Refunds name a charge, never a card: no vault table, no vault key.
		routes.CreditNotes: {"AuditTable": appendAudit, "BillingTable": union(idempotency, readWrite), "DataKey": tableKeyWrite},
		// users writes only SESSION# epochs (TestSessionEpochsOnlyUnderTheirPrefix); its pool grant is in users_test.go.
		routes.Users: {"AuditTable": appendAudit, "BillingTable": union(idempotency, read, []string{"dynamodb:UpdateItem"}), "DataKey": tableKeyWrite},
		// The hosted page puts only LINK# items (TestHostedPageFunctionPutsOnlyLinks); no vault, no vault key.
		routes.HostedPage: {"AuditTable": appendAudit, "BillingTable": union(idempotency, read), "DataKey": tableKeyWrite},
		stacks.PageCheck:  {"OpsKey": sqsSend}, // its schedule's dead-letter queue
		// Exports and erasures: token metadata and token deletion, never a card (no direct vault key use).
		routes.DataRights: {"AuditTable": appendAudit, "BillingTable": union(idempotency, readWrite), "DataKey": tableKeyWrite,
			"VaultTable": readWrite, "VaultKey": tableKeyWrite,
			// The erasure ledger: erasures/ objects in the backup bucket, SSE-KMS under the backup key.
			"BackupBucket": {"s3:PutObject"}, "BackupKey": {"kms:GenerateDataKey"}},
		"audit-shipper": {"AuditTable": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:PutItem"},
			"AuditBucket": {"s3:PutObject"}, "DataKey": {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"},
			"Alerts": publish, "OpsKey": union(sqsSend, snsKey)},
		"audit-digest": {"AuditSigningKey": {"kms:GetPublicKey", "kms:Sign"}, "AuditTable": {"dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query"},
			"AuditBucket": {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions", "s3:PutObject"},
			"DataKey":     {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"}, "Alerts": publish, "OpsKey": union(sqsSend, snsKey)},
		// waf-audit appends the records of WAF blocks; its failed invocations go to the failure queue.
		"waf-audit": {"AuditTable": appendAudit, "DataKey": tableKeyWrite, "OpsKey": sqsSend},
		"backup": {"BillingTable": backupRead, "VaultTable": backupRead, "AuditTable": union(backupRead, appendAudit),
			"DataKey": tableKeyWrite, "VaultKey": union(tableKeyRead, []string{"kms:GenerateDataKeyWithoutPlaintext"}),
			"BackupKey": {"kms:Decrypt", "kms:GenerateDataKey"}, "BackupBucket": {"s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"}, "OpsKey": sqsSend},
		// The restore test names no live table but the audit table it appends to; the data and vault
		// keys it uses for its scratch tables are pinned by TestScopedStatements.
		"restore-test": {"AuditTable": appendAudit, "BackupBucket": {"s3:GetObject", "s3:ListBucket"}, "BackupKey": {"kms:Decrypt"},
			"DataKey":  union(tableKeyWrite, []string{"kms:CreateGrant", "kms:DescribeKey"}),
			"VaultKey": union(tableKeyWrite, []string{"kms:CreateGrant", "kms:DescribeKey"}), "OpsKey": sqsSend},
	}
	for _, f := range stacks.Functions {
		t.Run(f.Name, func(t *testing.T) {
			w, ok := want[f.Name]
			if !ok {
				t.Fatalf("no expected policy for %s: add a row", f.Name)
			}
			got, _ := policyOf(t, f.Name)
			if d := cmp.Diff(w, got); d != "" {
				t.Errorf("policy of %s (-allowed +granted):\n%s", f.Name, d)
			}
		})
	}
}

var sqsSend = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}

// The vault key and vault table are reached by tokens and payments only (and, to decrypt for the
// restore key check and to back up, by restore-test and backup); never by invoices, me, audit-query.
func TestOnlyTokensAndPaymentsReachTheVaultFromTheAPI(t *testing.T) {
	for _, f := range stacks.Functions {
		got, _ := policyOf(t, f.Name)
		_, vaultTable := got["VaultTable"]
		_, vaultKey := got["VaultKey"]
		allowed := map[string]bool{routes.Tokens: true, routes.Payments: true, "backup": true, "restore-test": true,
			// Token metadata for exports and token deletion on erasure, through DynamoDB only (no card data key).
			routes.DataRights: true}
		if (vaultTable || vaultKey) && !allowed[f.Name] {
			t.Errorf("%s may not touch the vault table or vault key", f.Name)
		}
		_, fn := function(t, f.Name)
		env := jsonOf(cfn.Get(fn.Properties, "Environment"))
		if !allowed[f.Name] && (strings.Contains(env, config.EnvVaultTable) || strings.Contains(env, config.EnvVaultKey)) {
			t.Errorf("%s is told the vault's names: %s", f.Name, env)
		}
	}
}

// Direct KMS use names its purposes (vaultbill:purpose in the encryption context, StringEquals on
// listed values, never just "present"); the KMS use DynamoDB, S3 and SNS make on a function's behalf is
// bound to that service and, where the service sends one, to that table or bucket.
func TestKMSStatementsCarryConditions(t *testing.T) {
	purpose := regexp.MustCompile(`^\{"StringEquals":\{"kms:EncryptionContext:vaultbill:purpose":\["[a-z-]+"(,"[a-z-]+")*\]\}\}$`)
	for _, f := range stacks.Functions {
		_, statements := policyOf(t, f.Name)
		for _, s := range statements {
			actions := text(cfn.Get(s, "Action"))
			res := text(cfn.Get(s, "Resource"))
			if !strings.Contains(actions, "kms:") || strings.Contains(res, "AuditSigningKey") {
				continue
			}
			// CDK's queue grant (sending to the encrypted failure queue) on the ops key only.
			if strings.Contains(res, "OpsKey") && cfn.Get(s, "Sid") == nil {
				continue
			}
			// The event source mapping's grantStreamRead lets the shipper decrypt the audit table's
			// (encrypted) stream records: read-only, on the data key, and only for that function.
			if f.Name == "audit-shipper" && actions == `["kms:Decrypt","kms:DescribeKey"]` {
				continue
			}
			cond := text(cfn.Get(s, "Condition"))
			via := func(svc string) bool {
				return strings.Contains(cond, `"kms:ViaService":"`+svc+`.<AWS::Region>.amazonaws.com"`)
			}
			ok := purpose.MatchString(cond) ||
				(via("dynamodb") && strings.Contains(cond, `"kms:EncryptionContext:aws:dynamodb:tableName":`)) ||
				(via("s3") && strings.Contains(cond, `"kms:EncryptionContext:aws:s3:arn":`)) ||
				(via("sns") && res == "<OpsKeyArn>") ||
				// Creating a (scratch) table under a key: DescribeKey and CreateGrant carry no table name.
				(via("dynamodb") && (actions == "kms:DescribeKey" || (actions == "kms:CreateGrant" && strings.Contains(cond, `"kms:GrantIsForAWSResource":"true"`))))
			if !ok {
				t.Errorf("%s: KMS statement not bound to a purpose, or to a service and its resource: %s", f.Name, text(s))
			}
		}
	}
}

// The purposes the policies allow are the ones the code sends: shared/adapters/vault's contexts, under the key
// the policies condition on.
func TestKMSPurposesMatchTheCode(t *testing.T) {
	for name, ctx := range map[string]map[string]string{stacks.PurposeCardData: vault.CardDataContext, stacks.PurposeFingerprint: vault.FingerprintContext} {
		if d := cmp.Diff(map[string]string{stacks.EncryptionContextPurpose: name}, ctx); d != "" {
			t.Errorf("shared/adapters/vault's context for %s differs from the policies' (-policy +code):\n%s", name, d)
		}
	}
}

// TestScopedStatements pins the statements of the audit, backup and card functions one by one:
// actions, resources (prefixes included) and conditions.
func TestScopedStatements(t *testing.T) {
	const (
		viaDynamoDB = `"kms:ViaService":"dynamodb.<AWS::Region>.amazonaws.com"`
		restoreARN  = "arn:<AWS::Partition>:dynamodb:" + testRegion + ":" + testAccount + ":table/vaultbill-restore-test-*"
	)
	tableKey := func(table string) string {
		return `{"StringEquals":{"kms:EncryptionContext:aws:dynamodb:tableName":"<` + table + `>",` + viaDynamoDB + `}}`
	}
	s3Key := func(bucket string) string {
		return `{"StringEquals":{"kms:EncryptionContext:aws:s3:arn":"<` + bucket + `Arn>","kms:ViaService":"s3.<AWS::Region>.amazonaws.com"}}`
	}
	purpose := func(p ...string) string {
		return `{"StringEquals":{"kms:EncryptionContext:vaultbill:purpose":["` + strings.Join(p, `","`) + `"]}}`
	}
	alerts := map[string]string{
		"PublishAlerts":    "sns:Publish | <Alerts> | null",
		"PublishAlertsKey": `["kms:GenerateDataKey","kms:Decrypt"] | <OpsKeyArn> | {"StringEquals":{"kms:ViaService":"sns.<AWS::Region>.amazonaws.com"}}`,
	}
	with := func(m map[string]string, extra map[string]string) map[string]string {
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	want := map[string]map[string]string{
		routes.Tokens: {
			"SealCards":            "kms:GenerateDataKey | <VaultKeyArn> | " + purpose("card-data", "card-fingerprint"),
			"UnwrapFingerprintKey": "kms:Decrypt | <VaultKeyArn> | " + purpose("card-fingerprint"),
		},
		routes.Payments: {
			"ReadVault": "dynamodb:GetItem | <VaultTableArn> | null",
			"OpenCards": "kms:Decrypt | <VaultKeyArn> | " + purpose("card-data"),
		},
		routes.AuditQuery: {
			"QueryAudit":         "dynamodb:Query | <AuditTableArn>/index/by-time | null",
			"QueryAuditTableKey": "kms:Decrypt | <DataKeyArn> | " + tableKey("AuditTable"),
		},
		"audit-shipper": with(map[string]string{
			"ShipAuditLogs":          "s3:PutObject | <AuditBucketArn>/AWSLogs/<AWS::AccountId>/CloudTrail/* | null",
			"ShipAuditLogsKey":       `["kms:GenerateDataKey","kms:Decrypt"] | <DataKeyArn> | ` + s3Key("AuditBucket"),
			"RecordLogFiles":         `dynamodb:PutItem | <AuditTableArn> | {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["logfile#*"]}}`,
			"RecordLogFilesTableKey": `["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey","kms:GenerateDataKeyWithoutPlaintext"] | <DataKeyArn> | ` + tableKey("AuditTable"),
		}, alerts),
		"audit-digest": with(map[string]string{
			"SignDigests":                `kms:Sign | <AuditSigningKeyArn> | {"StringEquals":{"kms:MessageType":"RAW","kms:SigningAlgorithm":"RSASSA_PKCS1_V1_5_SHA_256"}}`,
			"DigestPublicKey":            "kms:GetPublicKey | <AuditSigningKeyArn> | null",
			"ReadAuditLogs":              `["s3:GetObject","s3:GetObjectVersion"] | <AuditBucketArn>/AWSLogs/<AWS::AccountId>/* | null`,
			"ListAuditLogs":              `["s3:ListBucket","s3:ListBucketVersions"] | <AuditBucketArn> | {"StringLike":{"s3:prefix":["AWSLogs/<AWS::AccountId>/*"]}}`,
			"ReadLogFileRecords":         `dynamodb:BatchGetItem | <AuditTableArn> | {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["logfile#*"]}}`,
			"ReadLogFileRecordsTableKey": "kms:Decrypt | <DataKeyArn> | " + tableKey("AuditTable"),
			"ReadAuditLogsKey":           "kms:Decrypt | <DataKeyArn> | " + s3Key("AuditBucket"),
			"WriteDigests":               "s3:PutObject | <AuditBucketArn>/AWSLogs/<AWS::AccountId>/CloudTrail-Digest/* | null",
			"WriteDigestsKey":            `["kms:GenerateDataKey","kms:Decrypt"] | <DataKeyArn> | ` + s3Key("AuditBucket"),
			// The reconciliation: outbox records by time, and the log files of those the stream dropped.
			"QueryAudit":             "dynamodb:Query | <AuditTableArn>/index/by-time | null",
			"QueryAuditTableKey":     "kms:Decrypt | <DataKeyArn> | " + tableKey("AuditTable"),
			"ShipAuditLogs":          "s3:PutObject | <AuditBucketArn>/AWSLogs/<AWS::AccountId>/CloudTrail/* | null",
			"ShipAuditLogsKey":       `["kms:GenerateDataKey","kms:Decrypt"] | <DataKeyArn> | ` + s3Key("AuditBucket"),
			"RecordLogFiles":         `dynamodb:PutItem | <AuditTableArn> | {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["logfile#*"]}}`,
			"RecordLogFilesTableKey": `["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey","kms:GenerateDataKeyWithoutPlaintext"] | <DataKeyArn> | ` + tableKey("AuditTable"),
		}, alerts),
		"backup": {
			"BillingBackup":         `["dynamodb:DescribeTable","dynamodb:Scan","dynamodb:CreateBackup"] | <BillingTableArn> | null`,
			"BillingBackupPrune":    "dynamodb:DeleteBackup | <BillingTableArn>/backup/* | null",
			"BillingBackupTableKey": "kms:Decrypt | <DataKeyArn> | " + tableKey("BillingTable"),
			"VaultBackup":           `["dynamodb:DescribeTable","dynamodb:Scan","dynamodb:CreateBackup"] | <VaultTableArn> | null`,
			"VaultBackupPrune":      "dynamodb:DeleteBackup | <VaultTableArn>/backup/* | null",
			"VaultBackupTableKey":   "kms:Decrypt | <VaultKeyArn> | " + tableKey("VaultTable"),
			"AuditBackup":           `["dynamodb:DescribeTable","dynamodb:Scan","dynamodb:CreateBackup"] | <AuditTableArn> | null`,
			"AuditBackupPrune":      "dynamodb:DeleteBackup | <AuditTableArn>/backup/* | null",
			"AuditBackupTableKey":   "kms:Decrypt | <DataKeyArn> | " + tableKey("AuditTable"),
			"ListNativeBackups":     "dynamodb:ListBackups | * | null",
			"SealBackups":           "kms:GenerateDataKey | <BackupKeyArn> | " + purpose("backup"),
			"SealVaultCanary":       "kms:GenerateDataKeyWithoutPlaintext | <VaultKeyArn> | " + purpose("restore-canary"),
			"WriteBackups":          `["s3:PutObject","s3:DeleteObject"] | <BackupBucketArn>/backups/* | null`,
			"ListBackupObjects":     `s3:ListBucket | <BackupBucketArn> | {"StringLike":{"s3:prefix":["backups/*"]}}`,
			"WriteBackupsKey":       `["kms:GenerateDataKey","kms:Decrypt"] | <BackupKeyArn> | ` + s3Key("BackupBucket"),
			"AppendAudit":           "dynamodb:PutItem | <AuditTableArn> | null",
		},
		"restore-test": {
			"RestoreTestTables":      `["dynamodb:CreateTable","dynamodb:DescribeTable","dynamodb:DeleteTable","dynamodb:BatchWriteItem","dynamodb:Scan"] | ` + restoreARN + ` | null`,
			"RestoreTestTablesKeys":  `kms:DescribeKey | ["<DataKeyArn>","<VaultKeyArn>"] | {"StringEquals":{` + viaDynamoDB + `}}`,
			"RestoreTestTablesGrant": `kms:CreateGrant | ["<DataKeyArn>","<VaultKeyArn>"] | {"Bool":{"kms:GrantIsForAWSResource":"true"},"StringEquals":{` + viaDynamoDB + `}}`,
			"RestoreTestTablesData": `["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey","kms:GenerateDataKeyWithoutPlaintext"] | ["<DataKeyArn>","<VaultKeyArn>"] | ` +
				`{"StringEquals":{` + viaDynamoDB + `},"StringLike":{"kms:EncryptionContext:aws:dynamodb:tableName":"vaultbill-restore-test-*"}}`,
			"ReadBackups":       "s3:GetObject | <BackupBucketArn>/backups/* | null",
			"ListBackupObjects": `s3:ListBucket | <BackupBucketArn> | {"StringLike":{"s3:prefix":["backups/*"]}}`,
			"ReadBackupsKey":    "kms:Decrypt | <BackupKeyArn> | " + s3Key("BackupBucket"),
			"OpenBackups":       "kms:Decrypt | <BackupKeyArn> | " + purpose("backup"),
			"CheckVaultKey":     "kms:Decrypt | <VaultKeyArn> | " + purpose("restore-canary"),
			"AppendAudit":       "dynamodb:PutItem | <AuditTableArn> | null",
		},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			_, statements := policyOf(t, name)
			got := map[string]string{}
			for _, s := range statements {
				if sid, ok := cfn.Get(s, "Sid").(string); ok && w[sid] != "" {
					got[sid] = text(cfn.Get(s, "Action")) + " | " + text(cfn.Get(s, "Resource")) + " | " + text(cfn.Get(s, "Condition"))
				}
			}
			if d := cmp.Diff(w, got); d != "" {
				t.Errorf("statements of %s (-want +template):\n%s", name, d)
			}
		})
	}
	// The restore test never reaches a live table: no statement of its policy names one.
	_, statements := policyOf(t, "restore-test")
	for _, s := range statements {
		res := text(cfn.Get(s, "Resource"))
		for _, table := range []string{"<BillingTable", "<VaultTable", "<AuditTableStream"} {
			if strings.Contains(res, table) {
				t.Errorf("restore-test reaches a live table: %s", text(s))
			}
		}
	}
}

// TestFunctionEnvironments: each function is told the names of exactly what it may touch and its
// settings, nothing more (the vault's names only to tokens, payments and the backup functions).
func TestFunctionEnvironments(t *testing.T) {
	common := []string{"LOG_LEVEL", config.EnvAccount}
	api := append(common, config.EnvAuditTable, config.EnvBillingTable)
	want := map[string][]string{
		"authorizer":      append(common, config.EnvAuditTable, config.EnvJWTIssuer, config.EnvJWTAudience, config.EnvJWKSURL, config.EnvMFAPoolIssuers, config.EnvBillingTable),
		routes.Me:         api,
		routes.Invoices:   append(slices.Clip(api), config.EnvDataKey),
		routes.Tokens:     append(api, config.EnvVaultTable, config.EnvVaultKey, config.EnvDataKey),
		routes.Payments:   append(api, config.EnvVaultTable, config.EnvVaultKey, config.EnvDataKey, stacks.EnvPaymentProcessor, stacks.EnvStage),
		routes.AuditQuery: api,
		"audit-shipper":   append(common, config.EnvAuditTable, config.EnvAuditBucket, auditreview.EnvTopicARN),
		"audit-digest":    append(common, config.EnvAuditTable, config.EnvAuditBucket, config.EnvAuditSigningKey, auditreview.EnvTopicARN),
		"waf-audit":       append(common, config.EnvAuditTable),
		"backup": append(common, config.EnvBillingTable, config.EnvVaultTable, config.EnvAuditTable,
			config.EnvBackupBucket, config.EnvBackupKey, config.EnvBackupRetentionDays, config.EnvVaultKey),
		"restore-test": append(common, config.EnvBillingTable, config.EnvVaultTable, config.EnvAuditTable,
			config.EnvBackupBucket, config.EnvBackupKey, config.EnvDataKey, config.EnvVaultKey),

		routes.CreditNotes: append(api, stacks.EnvPaymentProcessor, stacks.EnvStage),
		routes.Users:       append(api, config.EnvUserPoolID),
		routes.HostedPage:  api,
		stacks.PageCheck:   append(common, hostedpage.EnvCheckURL),
		routes.DataRights:  append(slices.Clip(api), config.EnvDataKey, config.EnvVaultTable, config.EnvBackupBucket),
	}
	for _, f := range stacks.Functions {
		_, fn := function(t, f.Name)
		env := cfn.Get(fn.Properties, "Environment", "Variables").(map[string]any)
		var got []string
		for k := range env {
			got = append(got, k)
		}
		if d := cmp.Diff(want[f.Name], got, sortStrings); d != "" {
			t.Errorf("%s environment (-want +template):\n%s", f.Name, d)
		}
		for k, v := range map[string]string{stacks.EnvPaymentProcessor: "sandbox", config.EnvBackupRetentionDays: "35"} {
			if got, ok := env[k]; ok && got != v {
				t.Errorf("%s: %s=%v, want %s", f.Name, k, got, v)
			}
		}
		for _, k := range []string{config.EnvDataKey, config.EnvVaultKey, config.EnvBackupKey, config.EnvAuditSigningKey} {
			if v, ok := env[k]; ok && !strings.HasSuffix(text(v), "KeyArn>") {
				t.Errorf("%s: %s=%s must be a key ARN (scratch tables are created with it)", f.Name, k, text(v))
			}
		}
		if v, ok := env[auditreview.EnvTopicARN]; ok && text(v) != "<Alerts>" {
			t.Errorf("%s: %s=%s must be the encrypted alerts topic", f.Name, auditreview.EnvTopicARN, text(v))
		}
	}
}

func TestIdempotencyRecordsOnlyUnderTheirPrefix(t *testing.T) {
	for _, name := range []string{routes.Me, routes.AuditQuery, routes.Tokens} {
		_, statements := policyOf(t, name)
		for _, s := range statements {
			res, actions := jsonOf(cfn.Get(s, "Resource")), jsonOf(cfn.Get(s, "Action"))
			if strings.Contains(res, "BillingTable") && strings.Contains(actions, "dynamodb:PutItem") &&
				jsonOf(cfn.Get(s, "Condition")) != `{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["IDEM#*"]}}` {
				t.Errorf("%s writes the billing table outside IDEM# records: %s", name, jsonOf(s))
			}
		}
	}
}

// TestNoWildcardWithoutAReason scans every Allow statement of every policy in every stack (role
// policies, key policies, bucket, queue and topic policies).
func TestNoWildcardWithoutAReason(t *testing.T) {
	actions, starActions, suffixes := map[string]bool{}, map[string]bool{}, []string{}
	for _, w := range stacks.Wildcards {
		if w.Reason == "" {
			t.Errorf("wildcard %+v has no reason", w)
		}
		actions[w.Action] = w.Action != ""
		starActions[w.StarResourceAction] = w.StarResourceAction != ""
		if w.ResourceSuffix != "" {
			suffixes = append(suffixes, w.ResourceSuffix)
		}
	}
	for stack, tpl := range doc {
		for id, r := range tpl.Resources {
			for _, docKey := range []string{"PolicyDocument", "KeyPolicy"} {
				for _, s := range cfn.List(cfn.Get(r.Properties, docKey, "Statement")) {
					if cfn.Get(s, "Effect") != "Allow" {
						continue
					}
					checkStatement(t, stack+"/"+id, r.Type, s, actions, starActions, suffixes)
				}
			}
		}
	}
}

func checkStatement(t *testing.T, where, typ string, s any, actions, starActions map[string]bool, suffixes []string) {
	t.Helper()
	isKeyPolicy := typ == "AWS::KMS::Key"
	for _, a := range cfn.List(cfn.Get(s, "Action")) {
		a := a.(string)
		if !strings.Contains(a, "*") {
			continue
		}
		// Key administrators manage with stacks.KeyAdminActions (keys_test.go pins them: no use).
		if isKeyPolicy && cfn.Get(s, "Sid") == stacks.KeyAdminSid && slices.Contains(stacks.KeyAdminActions, a) {
			continue
		}
		if !actions[a] {
			t.Errorf("%s: wildcard action %s without a reason in stacks.Wildcards: %s", where, a, jsonOf(s))
		}
	}
	for _, r := range cfn.List(cfn.Get(s, "Resource")) {
		rs := jsonOf(r)
		switch {
		case !strings.Contains(rs, "*"):
		case rs == `"*"` && isKeyPolicy:
			// In a key policy, "*" is the key itself.
		case rs == `"*"`:
			for _, a := range cfn.List(cfn.Get(s, "Action")) {
				if !starActions[a.(string)] {
					t.Errorf("%s: %s on Resource * without a reason in stacks.Wildcards", where, a)
				}
			}
		default:
			ok := false
			for _, suf := range suffixes {
				ok = ok || strings.HasSuffix(text(r), suf)
			}
			// S3 server access log delivery writes under each source bucket's prefix of the log bucket.
			if typ == "AWS::S3::BucketPolicy" && strings.Contains(jsonOf(cfn.Get(s, "Principal")), "logging.s3.amazonaws.com") {
				ok = true
			}
			if !ok {
				t.Errorf("%s: wildcard resource %s without a reason in stacks.Wildcards", where, rs)
			}
		}
	}
}

// resourcePaths maps each API Gateway resource to its full path.
func resourcePaths() map[string]string {
	out := map[string]string{}
	var walk func(id string) string
	walk = func(id string) string {
		if p, ok := out[id]; ok {
			return p
		}
		r := api().Resources[id]
		parent, _ := cfn.Get(r.Properties, "ParentId", "Ref").(string)
		prefix := ""
		if parent != "" && api().Resources[parent].Type == "AWS::ApiGateway::Resource" {
			prefix = walk(parent)
		}
		out[id] = prefix + "/" + r.Properties["PathPart"].(string)
		return out[id]
	}
	for _, id := range api().ofType("AWS::ApiGateway::Resource") {
		walk(id)
	}
	return out
}

func TestEveryRouteIsServedBehindTheAuthorizer(t *testing.T) {
	paths := resourcePaths()
	authorizerID, _ := api().byPrefix(t, "AWS::ApiGateway::Authorizer", stacks.AuthorizerID)
	got := map[string]string{}
	for _, id := range api().ofType("AWS::ApiGateway::Method") {
		p := api().Resources[id].Properties
		key := p["HttpMethod"].(string) + " " + paths[cfn.Get(p, "ResourceId", "Ref").(string)]
		got[key] = id
		if r, ok := routes.Lookup(p["HttpMethod"].(string), paths[cfn.Get(p, "ResourceId", "Ref").(string)]); ok && r.CapabilityChecked() {
			continue // the hosted page's routes: hostedpage_test.go checks them
		}
		if p["AuthorizationType"] != "CUSTOM" || jsonOf(p["AuthorizerId"]) != jsonOf(ref(authorizerID)) {
			t.Errorf("%s: AuthorizationType %v AuthorizerId %v; every method must use the REQUEST authorizer", key, p["AuthorizationType"], jsonOf(p["AuthorizerId"]))
		}
		if p["RequestValidatorId"] == nil {
			t.Errorf("%s: no request validator", key)
		}
	}
	var want []string
	for _, r := range routes.All {
		want = append(want, r.Key())
		id, ok := got[r.Key()]
		if !ok {
			continue
		}
		fnID, _ := function(t, r.Function)
		if uri := jsonOf(cfn.Get(api().Resources[id].Properties, "Integration", "Uri")); !strings.Contains(uri, `"`+fnID+`"`) {
			t.Errorf("%s must integrate the %s function: %s", r.Key(), r.Function, uri)
		}
		if name := api().Resources[id].Properties["OperationName"]; name != r.Operation {
			t.Errorf("%s: OperationName %v, want %s", r.Key(), name, r.Operation)
		}
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	if d := cmp.Diff(want, keys, sortStrings); d != "" {
		t.Errorf("methods (-routes.All +template):\n%s", d)
	}
}

func TestAuthorizer(t *testing.T) {
	_, a := api().byPrefix(t, "AWS::ApiGateway::Authorizer", stacks.AuthorizerID)
	want := map[string]any{"Type": "REQUEST", "AuthorizerResultTtlInSeconds": float64(stacks.AuthorizerCacheSeconds)}
	if src := a.Properties["IdentitySource"]; src != nil && src != "" {
		t.Errorf("authorizer IdentitySource = %v: API Gateway would refuse a request without it unaudited", src)
	}
	for k, v := range want {
		if a.Properties[k] != v {
			t.Errorf("authorizer %s = %v, want %v", k, a.Properties[k], v)
		}
	}
	authorizerFn, fn := function(t, "authorizer")
	if !strings.Contains(jsonOf(a.Properties["AuthorizerUri"]), authorizerFn) {
		t.Errorf("the authorizer must invoke functions/authorizer")
	}
	env := cfn.Get(fn.Properties, "Environment", "Variables").(map[string]any)
	for name, want := range map[string]string{
		config.EnvJWTIssuer:   "UserPoolProviderURL",
		config.EnvJWTAudience: "UserPoolClient",
		config.EnvJWKSURL:     "/.well-known/jwks.json",
	} {
		if got := jsonOf(env[name]); !strings.Contains(got, want) || !strings.Contains(got, "UserPool") {
			t.Errorf("authorizer %s = %s; must come from the Cognito user pool (%s)", name, got, want)
		}
	}
}

func TestStageLogsThrottlesAndTraces(t *testing.T) {
	_, st := api().byPrefix(t, "AWS::ApiGateway::Stage", "ApiDeploymentStage")
	p := st.Properties
	if p["TracingEnabled"] != true {
		t.Error("X-Ray tracing must be on")
	}
	if cfn.Get(p, "AccessLogSetting", "DestinationArn") == nil || !strings.HasPrefix(cfn.Get(p, "AccessLogSetting", "Format").(string), "{") {
		t.Error("JSON access logs required")
	}
	if format := cfn.Get(p, "AccessLogSetting", "Format").(string); strings.Contains(format, "$context.path") {
		t.Errorf("the access log names the request path (a hosted page link is in it): %s", format)
	}
	settings := map[string]any{}
	for _, m := range cfn.List(p["MethodSettings"]) {
		settings[jsonOf(cfn.Get(m, "ResourcePath"))+" "+jsonOf(cfn.Get(m, "HttpMethod"))] = m
	}
	want := map[string]any{`"/*" "*"`: map[string]any{"DataTraceEnabled": false, "HttpMethod": "*", "LoggingLevel": "INFO", "MetricsEnabled": true,
		"ResourcePath": "/*", "ThrottlingBurstLimit": 200.0, "ThrottlingRateLimit": 100.0}}
	// A hosted page link is a bearer secret in the path, and execution logs at INFO print the path.
	for _, r := range routes.All {
		if r.CapabilityChecked() {
			path := "/" + strings.ReplaceAll(r.Path, "/", "~1") // CloudFormation escapes a path so
			want[jsonOf(path)+" "+jsonOf(r.Method)] = map[string]any{"DataTraceEnabled": false, "HttpMethod": r.Method,
				"LoggingLevel": "OFF", "MetricsEnabled": true, "ResourcePath": path, "ThrottlingBurstLimit": 200.0, "ThrottlingRateLimit": 100.0}
		}
	}
	if d := cmp.Diff(want, settings); d != "" {
		t.Errorf("stage method settings: execution logs on but off where a link is in the path, data trace (bodies with card data) off, throttling set (-want +got):\n%s", d)
	}
	found := false
	for _, id := range api().ofType("AWS::Logs::LogGroup") {
		lg := api().Resources[id].Properties
		if strings.Contains(jsonOf(lg["LogGroupName"]), "API-Gateway-Execution-Logs_") {
			found = lg["RetentionInDays"] == 365.0 && lg["KmsKeyId"] != nil
		}
	}
	if !found {
		t.Error("the execution log group must be created with retention and KMS encryption")
	}
}

func TestGatewayResponsesMatchTheLocalGateway(t *testing.T) {
	want := map[string][2]string{
		"UNAUTHORIZED":  {"401", httpapi.UnauthorizedTemplate()},
		"ACCESS_DENIED": {"403", httpapi.AccessDeniedTemplate()},
	}
	got := map[string][2]string{}
	for _, id := range api().ofType("AWS::ApiGateway::GatewayResponse") {
		p := api().Resources[id].Properties
		if h := cfn.Get(p, "ResponseParameters", "gatewayresponse.header.Content-Type"); h != "'application/problem+json'" {
			t.Errorf("%v: Content-Type %v, want application/problem+json", p["ResponseType"], h)
		}
		got[p["ResponseType"].(string)] = [2]string{p["StatusCode"].(string), cfn.Get(p, "ResponseTemplates", "application/json").(string)}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("gateway responses (-shared/local/gateway +template):\n%s", d)
	}
	if !strings.Contains(httpapi.AccessDeniedTemplate(), `"code":"$context.authorizer.code"`) {
		t.Error("the 403 body must take its code from the authorizer context")
	}
}

func TestWebACL(t *testing.T) {
	aclID, acl := api().byPrefix(t, "AWS::WAFv2::WebACL", stacks.WebACLID)
	var groups []string
	rate := false
	for _, r := range cfn.List(acl.Properties["Rules"]) {
		if g, ok := cfn.Get(r, "Statement", "ManagedRuleGroupStatement", "Name").(string); ok {
			groups = append(groups, g)
		}
		if cfn.Get(r, "Statement", "RateBasedStatement", "Limit") != nil && cfn.Get(r, "Action", "Block") != nil {
			rate = true
		}
	}
	if d := cmp.Diff([]string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet"}, groups, sortStrings); d != "" {
		t.Errorf("managed rule groups (-want +got):\n%s", d)
	}
	if !rate {
		t.Error("a blocking rate-based rule is required")
	}
	stageID, _ := api().byPrefix(t, "AWS::ApiGateway::Stage", "ApiDeploymentStage")
	_, assoc := api().byPrefix(t, "AWS::WAFv2::WebACLAssociation", "WebAclAssociation")
	if a := jsonOf(assoc.Properties); !strings.Contains(a, aclID) || !strings.Contains(a, stageID) {
		t.Errorf("the web ACL must be associated with the stage: %s", a)
	}
	_, logging := api().byPrefix(t, "AWS::WAFv2::LoggingConfiguration", "WafLogging")
	if r := jsonOf(logging.Properties["RedactedFields"]); !strings.Contains(r, "authorization") {
		t.Errorf("WAF logs must redact the Authorization header: %s", r)
	}
}

func TestAlarmsNotifyTheEncryptedTopic(t *testing.T) {
	topicID, topic := api().byPrefix(t, "AWS::SNS::Topic", stacks.AlertsTopicID)
	if !strings.Contains(jsonOf(topic.Properties["KmsMasterKeyId"]), "OpsKey") {
		t.Error("the alerts topic must be encrypted with the ops key")
	}
	var metrics []string
	for _, id := range api().ofType("AWS::CloudWatch::Alarm") {
		p := api().Resources[id].Properties
		if jsonOf(p["AlarmActions"]) != jsonOf([]any{ref(topicID)}) {
			t.Errorf("alarm %s does not notify the alerts topic", id)
		}
		metrics = append(metrics, p["Namespace"].(string)+"/"+p["MetricName"].(string)+" "+jsonOf(p["Dimensions"]))
	}
	all := strings.Join(metrics, "\n")
	for _, want := range []string{"AWS/ApiGateway/5XXError", "Vaultbill/AuthorizerDenials", "AWS/SQS/ApproximateNumberOfMessagesVisible"} {
		if !strings.Contains(all, want) {
			t.Errorf("no alarm on %s", want)
		}
	}
	for _, f := range stacks.Functions {
		fnID, _ := function(t, f.Name)
		if !strings.Contains(all, "AWS/Lambda/Errors "+jsonOf([]any{map[string]any{"Name": "FunctionName", "Value": ref(fnID)}})) {
			t.Errorf("no error alarm on %s", f.Name)
		}
	}
}

func TestAuditShipperStream(t *testing.T) {
	_, esm := api().byPrefix(t, "AWS::Lambda::EventSourceMapping", stacks.FunctionID("audit-shipper"))
	p := esm.Properties
	want := map[string]string{
		"EventSourceArn":                 "<AuditTableStreamArn>",
		"FunctionName":                   "<AuditShipperFunction>",
		"StartingPosition":               "TRIM_HORIZON",
		"BatchSize":                      "1000",
		"MaximumBatchingWindowInSeconds": "60",
		"BisectBatchOnFunctionError":     "true",
		"FunctionResponseTypes":          `["ReportBatchItemFailures"]`,
		"MaximumRetryAttempts":           "10",
		"MaximumRecordAgeInSeconds":      "3600",
		"DestinationConfig":              `{"OnFailure":{"Destination":"<Failures.Arn>"}}`,
		// REMOVE (TTL expiry of the outbox) is not shipped; MODIFY is, so tampering alerts.
		"FilterCriteria": `{"Filters":[{"Pattern":"{\"eventName\":[\"INSERT\",\"MODIFY\"]}"}]}`,
	}
	got := map[string]string{}
	for k := range want {
		got[k] = text(p[k])
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("audit stream source (-want +template):\n%s", d)
	}
	_, fn := function(t, "audit-shipper")
	if to := fn.Properties["Timeout"].(float64); to != stacks.ShipperTimeout.Seconds() || to >= audittrail.DefaultLag.Seconds() {
		t.Errorf("shipper timeout %vs; want %s, under the digest lag %s", to, stacks.ShipperTimeout, audittrail.DefaultLag)
	}
}

func TestSchedules(t *testing.T) {
	want := map[string]string{"audit-digest": "rate(1 hour)", "backup": "cron(0 3 * * ? *)", "restore-test": "cron(0 5 ? * SUN *)"}
	for name, expr := range want {
		_, rule := api().byPrefix(t, "AWS::Events::Rule", stacks.FunctionID(name)+"Schedule")
		fnID, _ := function(t, name)
		target := cfn.List(rule.Properties["Targets"])[0]
		if rule.Properties["ScheduleExpression"] != expr || !strings.Contains(jsonOf(cfn.Get(target, "Arn")), fnID) || cfn.Get(target, "DeadLetterConfig") == nil {
			t.Errorf("%s: schedule %v target %s; want %s with a dead-letter queue", name, rule.Properties["ScheduleExpression"], jsonOf(target), expr)
		}
	}
}

// alarmsOn finds the alarms on one metric (namespace, name and dimensions, rendered).
func alarmsOn(namespace, metric string, dims map[string]string) []map[string]any {
	var out []map[string]any
	for _, id := range api().ofType("AWS::CloudWatch::Alarm") {
		p := api().Resources[id].Properties
		if p["Namespace"] != namespace || p["MetricName"] != metric {
			continue
		}
		got := map[string]string{}
		for _, d := range cfn.List(p["Dimensions"]) {
			got[cfn.Get(d, "Name").(string)] = text(cfn.Get(d, "Value"))
		}
		if cmp.Equal(dims, got, cmpopts.EquateEmpty()) {
			out = append(out, p)
		}
	}
	return out
}

// alarmShape is what decides when an alarm fires.
func alarmShape(p map[string]any) string {
	return fmt.Sprintf("%v %v %v over %v×%vs (%v of them), missing %v",
		p["Statistic"], p["ComparisonOperator"], p["Threshold"], p["EvaluationPeriods"], p["Period"], p["DatapointsToAlarm"], p["TreatMissingData"])
}

// TestAuditAlarms: every rule the automated review raises, per function, and every pipeline failure
// raises an alarm on the alerts topic (the EMF metrics of shared/ops/auditreview).
func TestAuditAlarms(t *testing.T) {
	rules := map[string][]string{
		"audit-shipper": {auditreview.RuleAuthFailures, auditreview.RuleCardDataDenied, auditreview.RuleDetokenize, auditreview.RuleNoMFA, auditreview.RulePipeline, auditreview.RuleCardAttempts, auditreview.RuleCardFailures, auditreview.RuleCardThrottled},
		"audit-digest":  {auditreview.RulePipeline},
	}
	const any5min = "Sum GreaterThanOrEqualToThreshold 1 over 1×300s (<nil> of them), missing notBreaching"
	for fn, rs := range rules {
		for _, rule := range rs {
			got := alarmsOn(auditreview.Namespace, auditreview.MetricAlerts, map[string]string{"Function": fn, "Rule": rule})
			if len(got) != 1 || alarmShape(got[0]) != any5min {
				t.Errorf("%s rule %s: want one alarm on %s/%s firing on any alert; got %d", fn, rule, auditreview.Namespace, auditreview.MetricAlerts, len(got))
			}
		}
		got := alarmsOn(auditreview.Namespace, auditreview.MetricPipeline, map[string]string{"Function": fn})
		if len(got) != 1 || alarmShape(got[0]) != any5min {
			t.Errorf("%s: want one alarm on %s firing on any pipeline failure; got %d", fn, auditreview.MetricPipeline, len(got))
		}
	}
}

// TestBackupAlarms: a day without a good backup, a week without a passing restore test (a missing
// datapoint counts as a failure), a backup older than 48 hours, and any alert log line of the backup
// functions raise an alarm (the EMF metrics and log lines of shared/ops/backup).
func TestBackupAlarms(t *testing.T) {
	for _, tb := range resources.Tables {
		dims := map[string]string{"Table": tb.ID}
		for metric, want := range map[string]string{
			"BackupSuccess":      "Minimum LessThanThreshold 1 over 1×86400s (<nil> of them), missing breaching",
			"RestoreTestSuccess": "Minimum LessThanThreshold 1 over 7×86400s (7 of them), missing breaching",
			"BackupAge":          fmt.Sprintf("Maximum GreaterThanThreshold %v over 1×86400s (<nil> of them), missing notBreaching", (48 * time.Hour).Seconds()),
		} {
			got := alarmsOn(backup.Namespace, metric, dims)
			if len(got) != 1 || alarmShape(got[0]) != want {
				var shapes []string
				for _, g := range got {
					shapes = append(shapes, alarmShape(g))
				}
				t.Errorf("%s %s: alarms %v, want one: %s", tb.ID, metric, shapes, want)
			}
		}
	}
	for fn, metric := range map[string]string{"backup": "BackupAlertLines", "restore-test": "RestoreTestAlertLines"} {
		_, fnRes := function(t, fn)
		logGroup := text(cfn.Get(fnRes.Properties, "LoggingConfig", "LogGroup"))
		found := false
		for _, id := range api().ofType("AWS::Logs::MetricFilter") {
			p := api().Resources[id].Properties
			tr := cfn.List(p["MetricTransformations"])[0]
			if text(p["LogGroupName"]) == logGroup && p["FilterPattern"] == "{ $.alert IS TRUE }" &&
				cfn.Get(tr, "MetricNamespace") == backup.Namespace && cfn.Get(tr, "MetricName") == metric {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no metric filter { $.alert IS TRUE } on its log group to %s/%s", fn, backup.Namespace, metric)
		}
		if got := alarmsOn(backup.Namespace, metric, nil); len(got) != 1 ||
			alarmShape(got[0]) != "Sum GreaterThanOrEqualToThreshold 1 over 1×300s (<nil> of them), missing notBreaching" {
			t.Errorf("%s: want one alarm on any alert line (%s)", fn, metric)
		}
	}
	// The age alarm above is pinned at 48 hours; the restore test must fail a backup as stale at the same age.
	if backup.DefaultMaxAge != 48*time.Hour {
		t.Errorf("the restore test fails backups at %s, the age alarm at 48h", backup.DefaultMaxAge)
	}
}
