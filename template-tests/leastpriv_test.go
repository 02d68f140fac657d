package templatetests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/handlers/hostedpage"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/local/emulator"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
	wafauditwiring "github.com/vaultbill/vaultbill/shared/wiring/wafaudit"
	"github.com/vaultbill/vaultbill/template-tests/policyeval"
)

// Least privilege, proven both ways: the emulator enforces no IAM, so the test records
// every AWS call each function makes in a representative end-to-end run of the local stack, and
// evaluates the synthesized templates' policies (identity, key and bucket policies together) for
// the function's role:
//   - every recorded call is allowed (else: AccessDenied in AWS on a customer's first request);
//   - every action × resource a role's identity policy grants is exercised by a recorded call or has
//     a written reason beside the grants (stacks.Unexercised, stacks.RuntimeGrants).

// localScope is what the templates' references resolve to: the local stack's names and keys.
type localScope struct {
	names           resources.Names
	account, region string
	// keys maps a local key id (the UUID the emulator made) to its resources.Keys ID, and back.
	keyByUUID map[string]string
	uuidByKey map[string]string
	// pool is the id of the user pool the local stack provisioned.
	pool string
}

// attr resolves Ref and Fn::GetAtt of the data stack's tables, keys and buckets, found through the
// shared resource definitions, to the local stack's resources. Anything else stays a placeholder.
func (l localScope) attr(stack, id, attr string) (string, bool) {
	if stack != stacks.DataStackName {
		return "", false
	}
	for _, t := range resources.Tables {
		if stacks.LogicalID(t.ID, "Table") != id {
			continue
		}
		arn := l.tableARN(l.names.Table(t.ID))
		switch attr {
		case "Ref":
			return l.names.Table(t.ID), true
		case "Arn":
			return arn, true
		case "StreamArn":
			return arn + "/stream/*", true // the stream of any label: the emulator's differs
		}
	}
	for _, k := range resources.Keys {
		if stacks.LogicalID(k.ID, "Key") == id && (attr == "Arn" || attr == "Ref") {
			return l.keyARN(l.uuidByKey[k.ID]), true
		}
	}
	if logicalHash.ReplaceAllString(id, "") == stacks.UserPoolID && l.pool != "" {
		switch attr {
		case "Ref":
			return l.pool, true
		case "Arn":
			return l.poolARN(l.pool), true
		}
	}
	for _, b := range resources.Buckets {
		if stacks.LogicalID(b.ID, "Bucket") != id {
			continue
		}
		switch attr {
		case "Ref":
			return l.names.Bucket(b.ID), true
		case "Arn":
			return "arn:aws:s3:::" + l.names.Bucket(b.ID), true
		}
	}
	return "", false
}

// poolARN is the ARN of a user pool of the local stack's account and region.
func (l localScope) poolARN(id string) string {
	return "arn:aws:cognito-idp:" + l.region + ":" + l.account + ":userpool/" + id
}

func (l localScope) tableARN(name string) string {
	return "arn:aws:dynamodb:" + l.region + ":" + l.account + ":table/" + name
}

func (l localScope) keyARN(uuid string) string {
	return "arn:aws:kms:" + l.region + ":" + l.account + ":key/" + uuid
}

var logicalHash = regexp.MustCompile(`[0-9A-F]{8}$`)

// label names a granted resource for stacks.GrantKeys: by its shared/ops/resources ID and the rest of its
// ARN ("billing/index/*", "backup/backups/*"), or by its logical ID without the hash ("OpsKey") when it
// has no local counterpart.
func (l localScope) label(res string) string {
	if strings.HasPrefix(res, "{") { // a placeholder: {stack/LogicalID.attr}
		_, id, _ := strings.Cut(strings.Trim(res, "{}"), "/")
		id, _, _ = strings.Cut(id, ".")
		return logicalHash.ReplaceAllString(id, "")
	}
	name := res
	switch {
	case strings.Contains(res, ":table/"):
		_, name, _ = strings.Cut(res, ":table/")
	case strings.HasPrefix(res, "arn:aws:s3:::"):
		name = strings.TrimPrefix(res, "arn:aws:s3:::")
	case strings.Contains(res, ":key/"):
		_, uuid, _ := strings.Cut(res, ":key/")
		if id, ok := l.keyByUUID[uuid]; ok {
			return id
		}
		return res
	}
	if rest, ok := strings.CutPrefix(name, l.names.Prefix); ok {
		return rest
	}
	return name
}

// roleARN is the ARN of a function's role (stacks.FunctionRoleName).
func (l localScope) roleARN(fn string) string {
	return "arn:aws:iam::" + l.account + ":role/" + stacks.APIStackName + "-" + fn + "-" + l.region
}

// local rewrites the account and region of an ARN the emulator returned to the scope's.
func (l localScope) local(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 {
		return arn
	}
	p[3], p[4] = l.region, l.account
	return strings.Join(p, ":")
}

// s3Actions are the IAM actions of S3 operations whose name is not the action.
var s3Actions = map[string]string{
	"HeadObject": "GetObject", "ListObjectsV2": "ListBucket", "ListObjects": "ListBucket", "HeadBucket": "ListBucket",
	"ListObjectVersions": "ListBucketVersions", "DeleteObjects": "DeleteObject",
}

// request turns a recorded call into the request IAM authorizes.
func (l localScope) request(c stacktest.Call) (policyeval.Request, error) {
	r := policyeval.Request{Principal: l.roleARN(c.Function), Resource: "*", Context: map[string][]string{
		// The SDK talks HTTPS with TLS 1.2 or later to AWS.
		"aws:SecureTransport": {"true"}, "s3:TlsVersion": {"1.2"},
	}}
	switch c.Service {
	case "DynamoDB", "DynamoDB Streams":
		op := c.Operation
		if c.Item != "" { // an item of a transaction is authorized as its own operation
			op = map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
				"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}[c.Item]
		}
		r.Action = "dynamodb:" + op
		switch {
		case c.Stream != "":
			r.Resource = l.local(c.Stream)
		case c.BackupARN != "":
			r.Resource = l.local(c.BackupARN)
		case c.Table != "" && c.Index != "":
			r.Resource = l.tableARN(c.Table) + "/index/" + c.Index
		case c.Table != "":
			r.Resource = l.tableARN(c.Table)
		}
		if len(c.LeadingKeys) > 0 {
			r.Context["dynamodb:LeadingKeys"] = c.LeadingKeys
		}
	case "KMS":
		r.Action = "kms:" + c.Operation
		key := c.Key
		if alias, ok := strings.CutPrefix(key, "alias/"); ok {
			id, ok := strings.CutPrefix(alias, l.names.Prefix)
			if !ok || l.uuidByKey[id] == "" {
				return r, fmt.Errorf("key alias %s is no key of the stack", key)
			}
			key = l.uuidByKey[id]
		} else if i := strings.LastIndex(key, "key/"); i >= 0 {
			key = key[i+len("key/"):]
		}
		if key == "" {
			return r, fmt.Errorf("%s names no key", c.Operation)
		}
		r.Resource = l.keyARN(key)
		r.Context["kms:CallerAccount"] = []string{l.account}
		for k, v := range c.EncryptionContext {
			r.Context["kms:EncryptionContext:"+k] = []string{v}
		}
		if c.SigningAlgorithm != "" {
			r.Context["kms:SigningAlgorithm"] = []string{c.SigningAlgorithm}
		}
		if c.MessageType != "" {
			r.Context["kms:MessageType"] = []string{c.MessageType}
		}
	case "S3":
		op := c.Operation
		if a, ok := s3Actions[op]; ok {
			op = a
		}
		r.Action = "s3:" + op
		r.Resource = "arn:aws:s3:::" + c.Bucket
		if c.Object != "" {
			r.Resource += "/" + c.Object
		}
		if c.Prefix != nil {
			r.Context["s3:prefix"] = []string{*c.Prefix}
		}
	case "SNS":
		r.Action, r.Resource = "sns:"+c.Operation, l.local(c.Topic)
	case "Cognito Identity Provider":
		if c.UserPool == "" {
			return r, fmt.Errorf("%s names no user pool", c.Operation)
		}
		r.Action, r.Resource = "cognito-idp:"+c.Operation, l.poolARN(c.UserPool)
	default:
		return r, fmt.Errorf("service %s: no mapping to IAM (add one here)", c.Service)
	}
	return r, nil
}

// startRecordedStack starts the emulator and a local stack whose functions' calls rec records.
func startRecordedStack(t *testing.T, rec *stacktest.Recorder) *devstack.Stack {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		if os.Getenv("CI") != "" { // as stacktest.Endpoint: CI never silently skips the emulator tests
			t.Fatalf("moto_server is not installed (%s)", emulator.InstallHint)
		}
		t.Skipf("moto_server is not installed (%s)", emulator.InstallHint)
	}
	ep, err := emulator.FreeEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.Ensure(context.Background(), ep, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	s, err := devstack.Start(context.Background(), devstack.Options{
		Endpoint: ep, Addr: "127.0.0.1:0", StateDir: t.TempDir(),
		Names: resources.Names{Prefix: stacktest.UniquePrefix()}, Log: stacktest.Logger(t),
		AuditPoll: -1, FunctionAWS: rec.Tag,
	})
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// runFlow drives every function through the gateway and the scheduled runs, as production does.
func runFlow(t *testing.T, s *devstack.Stack) {
	t.Helper()
	ctx := context.Background()
	tok := func(role, customer string) string {
		return stacktest.Token(t, s, devstack.TokenSpec{Role: role, CustomerID: customer, Subject: role + "-lp"})
	}
	billingTok, payTok, adminTok, auditorTok := tok("billing", ""), tok("payments", ""), tok("admin", ""), tok("auditor", "")
	do := func(want int, method, path, token, body string, out any, headers ...string) {
		t.Helper()
		resp, b := stacktest.Do(t, s, method, path, token, body, headers...)
		if resp.StatusCode/100 != want/100 { // the flow needs the outcome, other tests pin the status
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		if out != nil {
			if err := json.Unmarshal([]byte(b), out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
	}
	var obj struct {
		ID string `json:"id"`
	}
	do(401, "GET", "/v1/me", "", "", nil)
	do(200, "GET", "/v1/me", billingTok, "", nil)
	do(201, "POST", "/v1/customers", billingTok, `{"name":"Least Privilege GmbH","email":"lp@example.com"}`, &obj, "Idempotency-Key", "lp-customer")
	cus := obj.ID
	do(201, "POST", "/v1/customers", billingTok, `{"name":"Least Privilege GmbH","email":"lp@example.com"}`, nil, "Idempotency-Key", "lp-customer")
	do(200, "GET", "/v1/customers/"+cus, billingTok, "", nil)
	do(200, "PATCH", "/v1/customers/"+cus, billingTok, `{"name":"Least Privilege AG"}`, nil)
	do(200, "GET", "/v1/customers", billingTok, "", nil)
	do(200, "GET", "/v1/me", tok("customer", cus), "", nil)
	invoice := func() string {
		do(201, "POST", "/v1/invoices", billingTok, fmt.Sprintf(`{"customer_id":%q,"currency":"EUR","lines":[{"description":"Hosting","quantity":2,"unit_amount":1999,"tax_rate_bps":1900}]}`, cus), &obj)
		return obj.ID
	}
	draft := invoice()
	do(200, "PATCH", "/v1/invoices/"+draft, billingTok, `{"memo":"least privilege"}`, nil)
	do(204, "DELETE", "/v1/invoices/"+draft, billingTok, "", nil)
	voided := invoice()
	do(200, "POST", "/v1/invoices/"+voided+"/finalize", billingTok, "", nil)
	do(200, "POST", "/v1/invoices/"+voided+"/void", billingTok, "", nil)
	inv := invoice()
	do(200, "POST", "/v1/invoices/"+inv+"/finalize", billingTok, "", nil)
	do(200, "GET", "/v1/invoices?customer_id="+cus, billingTok, "", nil)
	// With a cardholder name: tokens and payments unwrap the customer's key for it.
	do(201, "POST", "/v1/tokens", payTok, fmt.Sprintf(`{"customer_id":%q,"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123","name":"Least Privilege"}}`, cus), &obj, "Idempotency-Key", "lp-token")
	card := obj.ID
	do(200, "GET", "/v1/tokens/"+card, payTok, "", nil)
	do(200, "GET", "/v1/customers/"+cus+"/tokens", payTok, "", nil)
	do(200, "POST", "/v1/invoices/"+inv+"/pay", payTok, fmt.Sprintf(`{"token":%q}`, card), nil, "Idempotency-Key", "lp-pay")
	do(200, "GET", "/v1/payments?customer_id="+cus, billingTok, "", nil)
	do(201, "POST", "/v1/invoices/"+inv+"/credit-notes", adminTok, `{"amount":1000,"reason":"order_change"}`, &obj, "Idempotency-Key", "lp-credit")
	do(200, "GET", "/v1/credit-notes/"+obj.ID, billingTok, "", nil)
	do(200, "GET", "/v1/credit-notes?customer_id="+cus, billingTok, "", nil)
	do(204, "DELETE", "/v1/tokens/"+card, payTok, "", nil)
	do(200, "GET", "/v1/audit-events?limit=5", auditorTok, "", nil)

	// The user pool's administration, as an admin does it.
	do(201, "POST", "/v1/users", adminTok, `{"email":"lp.user@example.com","role":"billing"}`, &obj, "Idempotency-Key", "lp-user")
	user := obj.ID
	do(201, "POST", "/v1/users", adminTok, fmt.Sprintf(`{"email":"lp.customer@example.com","role":"customer","customer_id":%q}`, cus), nil)
	do(200, "GET", "/v1/users", adminTok, "", nil)
	do(200, "GET", "/v1/users/"+user, adminTok, "", nil)
	do(200, "PATCH", "/v1/users/"+user, adminTok, `{"role":"auditor"}`, nil)
	do(200, "POST", "/v1/users/"+user+"/disable", adminTok, "", nil)
	do(200, "POST", "/v1/users/"+user+"/enable", adminTok, "", nil)
	do(200, "POST", "/v1/users/"+user+"/sign-out", adminTok, "", nil)
	// Demoting an admin counts the enabled admins first: the pool's only one stays.
	do(201, "POST", "/v1/users", adminTok, `{"email":"lp.admin@example.com","role":"admin"}`, &obj)
	do(409, "PATCH", "/v1/users/"+obj.ID, adminTok, `{"role":"billing"}`, nil)

	// The hosted invoice page: a link to an open invoice, its page, an asset, a violation report, and
	// the card and payment through the link.
	linked := invoice()
	do(200, "POST", "/v1/invoices/"+linked+"/finalize", billingTok, "", nil)
	var link struct {
		URL string `json:"url"`
	}
	do(201, "POST", "/v1/invoices/"+linked+"/link", billingTok, "", &link, "Idempotency-Key", "lp-link")
	page := strings.TrimPrefix(link.URL, s.URL)
	do(200, "GET", page, "", "", nil)
	do(200, "GET", "/pay/assets/page.css", "", "", nil)
	do(204, "POST", page+"/csp-report", "", `{"csp-report":{"document-uri":"http://x`+page+`","effective-directive":"script-src-elem","violated-directive":"script-src-elem","blocked-uri":"inline","original-policy":"x"}}`, nil, "Content-Type", "application/csp-report")
	do(201, "POST", page+"/tokens", "", fmt.Sprintf(`{"customer_id":%q,"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123"}}`, cus), &obj)
	do(200, "POST", page+"/pay", "", fmt.Sprintf(`{"token":%q}`, obj.ID), nil)

	// The customer's data rights: an export, and the erasure of a customer with no open invoice.
	do(200, "GET", "/v1/customers/"+cus+"/export", adminTok, "", nil)
	do(201, "POST", "/v1/customers", billingTok, `{"name":"Erasable KG","email":"erase@example.com"}`, &obj, "Idempotency-Key", "lp-erasable")
	erasable := obj.ID
	do(201, "POST", "/v1/tokens", payTok, fmt.Sprintf(`{"customer_id":%q,"card":{"number":"5555555555554444","exp_month":12,"exp_year":2034,"cvc":"123"}}`, erasable), nil, "Idempotency-Key", "lp-erasable-card")
	do(200, "POST", "/v1/customers/"+erasable+"/erase", adminTok, "", nil, "Idempotency-Key", "lp-erase")

	// The WAF's blocked requests, as the log subscription delivers them.
	wb, err := os.ReadFile(filepath.Join("..", "events", "waf-audit", "blocked-requests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var blocked events.CloudwatchLogsEvent
	if err := json.Unmarshal(wb, &blocked); err != nil {
		t.Fatal(err)
	}
	waf, err := wafauditwiring.New(s.FunctionEnv("waf-audit"))
	if err != nil {
		t.Fatal(err)
	}
	if err := waf.Handle(ctx, blocked); err != nil {
		t.Fatalf("waf-audit: %v", err)
	}

	// The weekly check of the live hosted page against its inventory.
	if diffs, err := (&hostedpage.Checker{URL: s.URL + hostedpage.CanaryPath}).Run(ctx); err != nil || len(diffs) > 0 {
		t.Fatalf("page check: %v %q", err, diffs)
	}

	// A cold instance of invoices (another concurrent one, or after the key cache's MaxAge) unwraps
	// the customer's key to read it.
	invEnv := s.FunctionEnv("invoices")
	invDB := dynamodb.NewFromConfig(invEnv.AWS)
	cold := &billingdb.Store{DB: invDB, Table: invEnv.Config.BillingTable,
		Keys: customerkeys.New(kms.NewFromConfig(invEnv.AWS), invDB, invEnv.Config.BillingTable, invEnv.Config.DataKeyID)}
	if _, err := cold.GetCustomer(ctx, cus); err != nil {
		t.Fatalf("read the customer in a cold invoices instance: %v", err)
	}

	if _, err := s.Audit.ShipNow(ctx); err != nil {
		t.Fatalf("ship the audit trail: %v", err)
	}
	// The second digest reads the first, which it chains to.
	for range 2 {
		if _, err := s.Audit.DigestNow(ctx); err != nil {
			t.Fatalf("digest the audit trail: %v", err)
		}
	}
	// A record the stream dropped: written after the last shipping and never shipped. The digest run
	// past the reconciler's grace finds it missing from the log files and ships it itself.
	do(200, "GET", "/v1/customers/"+cus, billingTok, "", nil)
	clock := s.Audit.Clock
	s.Audit.Clock = func() time.Time { return clock().Add(audittrail.DefaultGrace + time.Minute) }
	if _, err := s.Audit.DigestNow(ctx); err != nil {
		t.Fatalf("digest the audit trail past the grace: %v", err)
	}
	s.Audit.Clock = clock
	b, err := backupwiring.New(s.FunctionEnv("backup"), backup.BackupPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Backup(ctx); err != nil {
		t.Fatalf("backup: %v", err)
	}
	rt, err := backupwiring.NewRestoreTest(s.FunctionEnv("restore-test"), backup.RestoreTestPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RestoreTest(ctx); err != nil {
		t.Fatalf("restore test: %v", err)
	}
}

// templates returns the synthesized stacks with their outputs (for Fn::ImportValue), as if
// synthesized for the local stack's account and region: CDK writes the test account and region
// literally where it knows them (Stack.FormatArn), and the functions name their account and region in
// object keys (AWSLogs/<account>/...).
func templates(t *testing.T, l localScope) map[string]cfn.Template {
	t.Helper()
	out := map[string]cfn.Template{}
	for name, tp := range tmpl {
		b, err := json.Marshal(tp.ToJSON())
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.NewReplacer(testAccount, l.account, testRegion, l.region).Replace(string(b)))
		var pt cfn.Template
		if err := json.Unmarshal(b, &pt); err != nil {
			t.Fatal(err)
		}
		out[name] = pt
	}
	return out
}

// scopeOf reads the local stack's key ids (the aliases name them).
func scopeOf(t *testing.T, s *devstack.Stack) localScope {
	t.Helper()
	l := localScope{names: s.Names, account: s.Env.Config.Account, region: s.Env.Config.Region,
		keyByUUID: map[string]string{}, uuidByKey: map[string]string{}, pool: s.Pool.ID}
	p := kms.NewListAliasesPaginator(kms.NewFromConfig(s.Env.AWS), &kms.ListAliasesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Aliases {
			id, ok := strings.CutPrefix(*a.AliasName, "alias/"+s.Names.Prefix)
			if ok && a.TargetKeyId != nil {
				l.keyByUUID[*a.TargetKeyId], l.uuidByKey[id] = id, *a.TargetKeyId
			}
		}
	}
	return l
}

// triple is one (function, action, resource) the test checks.
type triple struct{ fn, action, resource string }

func (x triple) String() string { return x.fn + ": " + x.action + " on " + x.resource }

// checkCalls evaluates every recorded call for its function's role and returns the distinct triples
// and the failures, one line each, naming the function, action and resource.
func checkCalls(p *policyeval.Policies, l localScope, calls []stacktest.Call) (map[triple]policyeval.Request, []string) {
	seen := map[triple]policyeval.Request{}
	var fails []string
	for _, c := range calls {
		r, err := l.request(c)
		if err != nil {
			fails = append(fails, fmt.Sprintf("%s: %s %s: %v", c.Function, c.Service, c.Operation, err))
			continue
		}
		// Requests differing only in their conditions' values are distinct too.
		ctx, _ := json.Marshal(r.Context)
		k := triple{c.Function, r.Action, r.Resource + " " + string(ctx)}
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = r
		d, err := p.Evaluate(r)
		switch {
		case err != nil:
			fails = append(fails, fmt.Sprintf("%s: %s on %s: %v", c.Function, r.Action, r.Resource, err))
		case !d.Allowed:
			fails = append(fails, fmt.Sprintf("function %s calls %s on %s (%s) but its role may not: %s",
				c.Function, r.Action, r.Resource, condText(r), d.Reason))
		}
	}
	sort.Strings(fails)
	return seen, fails
}

// condText renders a request's condition values that a policy of the templates reads.
func condText(r policyeval.Request) string {
	var parts []string
	for k, v := range r.Context {
		if k == "aws:SecureTransport" || k == "s3:TlsVersion" || k == "kms:CallerAccount" {
			continue
		}
		parts = append(parts, k+"="+strings.Join(v, ","))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "no conditions"
	}
	return strings.Join(parts, " ")
}

// checkGrants returns, one line each, the action × resource grants of a function's role that no
// recorded request uses and that have no reason in infra/stacks, and how many grants it checked.
func checkGrants(p *policyeval.Policies, l localScope, seen map[triple]policyeval.Request) ([]string, int) {
	byFn := map[string][]policyeval.Request{}
	for k, r := range seen {
		byFn[k.fn] = append(byFn[k.fn], r)
	}
	var fails []string
	checked := 0
	for _, f := range stacks.Functions {
		for _, s := range p.Identity[l.roleARN(f.Name)] {
			if s.Effect != "Allow" {
				continue
			}
			for _, a := range s.Action {
				for _, res := range s.Resource {
					checked++
					one := s
					one.Action, one.Resource = []string{a}, []string{res}
					if exercised(one, byFn[f.Name], l) || reason(f, s.Sid, a, l.label(res)) != "" {
						continue
					}
					fails = append(fails, fmt.Sprintf("function %s is granted %s on %s (%s, Sid %q) but no recorded call uses it: "+
						"remove the grant, exercise it in runFlow, or give the reason in stacks.Unexercised", f.Name, a, res, s.Source, s.Sid))
				}
			}
		}
	}
	sort.Strings(fails)
	return fails, checked
}

// reason is the written reason a function holds a grant no recorded call uses, under one of the
// function's permissions or the runtime's, by one of stacks.GrantKeys.
func reason(f stacks.Function, sid, action, on string) string {
	for _, k := range stacks.GrantKeys(sid, action, on) {
		if r := stacks.RuntimeGrants[k]; k != "" && r != "" {
			return r
		}
		for _, p := range f.Touches {
			if r := stacks.Unexercised[p][k]; k != "" && r != "" {
				return r
			}
		}
	}
	return ""
}

// exercised reports whether a recorded request uses a one-action, one-resource statement. A key use
// a service makes on the function's behalf (kms:ViaService) is exercised by a call to that service on
// the table or bucket its encryption context condition names (any, when it names none).
func exercised(s policyeval.Statement, reqs []policyeval.Request, l localScope) bool {
	for _, r := range reqs {
		if ok, _ := s.Matches(r); ok {
			return true
		}
	}
	via := s.Condition["StringEquals"]["kms:viaservice"]
	if len(via) == 0 {
		return false
	}
	tables := append(s.Condition["StringEquals"]["kms:encryptioncontext:aws:dynamodb:tablename"], s.Condition["StringLike"]["kms:encryptioncontext:aws:dynamodb:tablename"]...)
	buckets := s.Condition["StringEquals"]["kms:encryptioncontext:aws:s3:arn"]
	for _, r := range reqs {
		svc, _, _ := strings.Cut(r.Action, ":")
		if !slices.ContainsFunc(via, func(v string) bool { return v == svc+"."+l.region+".amazonaws.com" }) {
			continue
		}
		switch {
		case len(tables) > 0:
			_, rest, _ := strings.Cut(r.Resource, ":table/")
			name, _, _ := strings.Cut(rest, "/")
			if slices.ContainsFunc(tables, func(p string) bool { return policyeval.Glob(p, name) }) {
				return true
			}
		case len(buckets) > 0:
			bucket, _, _ := strings.Cut(r.Resource, "/")
			if slices.Contains(buckets, bucket) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

func TestLeastPrivilege(t *testing.T) {
	rec := &stacktest.Recorder{}
	s := startRecordedStack(t, rec)
	runFlow(t, s)
	if err := rec.WriteLog(); err != nil {
		t.Fatal(err)
	}
	l := scopeOf(t, s)
	env := policyeval.Env{Partition: "aws", Account: l.account, Region: l.region, Attr: l.attr}
	tpls := templates(t, l)
	p, err := policyeval.Collect(tpls, env)
	if err != nil {
		t.Fatal(err)
	}
	calls := rec.Calls()
	ran := map[string]bool{}
	for _, c := range calls {
		ran[c.Function] = true
	}
	for _, f := range stacks.Functions {
		switch {
		case len(f.Touches) == 0 && ran[f.Name]:
			// page-check holds no AWS permission: it fetches the live page over HTTPS, and runFlow
			// fails if its run fails.
			t.Errorf("function %s holds no AWS permission but made AWS calls in the run", f.Name)
		case len(f.Touches) > 0 && !ran[f.Name]:
			t.Errorf("function %s made no AWS call in the run: extend runFlow", f.Name)
		}
	}

	seen, fails := checkCalls(p, l, calls)
	for _, f := range fails {
		t.Error(f)
	}
	unused, granted := checkGrants(p, l, seen)
	for _, f := range unused {
		t.Error(f)
	}
	distinct := map[triple]bool{}
	for k := range seen {
		r, _, _ := strings.Cut(k.resource, " ")
		distinct[triple{k.fn, k.action, r}] = true
	}
	t.Logf("%d recorded calls: %d distinct (function, action, resource) triples (%d with distinct condition values) checked against the policies; %d granted action × resource pairs checked",
		len(calls), len(distinct), len(seen), granted)

	t.Run("a grant removed from infra is caught", func(t *testing.T) {
		// The payments function's OpenCards statement, as if grant.go no longer granted it.
		cut := removeStatement(t, tpls, stacks.APIStackName, "OpenCards")
		p, err := policyeval.Collect(cut, env)
		if err != nil {
			t.Fatal(err)
		}
		_, fails := checkCalls(p, l, calls)
		want := fmt.Sprintf("function payments calls kms:Decrypt on %s", l.keyARN(l.uuidByKey[resources.VaultKey]))
		if !slices.ContainsFunc(fails, func(f string) bool { return strings.HasPrefix(f, want) }) {
			t.Fatalf("failures %q, want one starting %q", fails, want)
		}
		t.Logf("caught: %s", strings.Join(fails, "\n"))
	})

	t.Run("a grant no call uses is caught", func(t *testing.T) {
		// payments given dynamodb:Scan on the billing table, as if grant.go granted it.
		role, table := l.roleARN("payments"), l.tableARN(s.Env.Config.BillingTable)
		wide := &policyeval.Policies{Identity: maps.Clone(p.Identity), ResourcePolicies: p.ResourcePolicies}
		wide.Identity[role] = append(slices.Clone(p.Identity[role]), policyeval.Statement{
			Sid: "ScanBilling", Effect: "Allow", Action: []string{"dynamodb:Scan"}, Resource: []string{table}, Source: "test",
		})
		fails, _ := checkGrants(wide, l, seen)
		want := "function payments is granted dynamodb:Scan on " + table
		if len(fails) != 1 || !strings.HasPrefix(fails[0], want) {
			t.Fatalf("failures %q, want one starting %q", fails, want)
		}
		t.Logf("caught: %s", fails[0])
	})

	t.Run("a new SDK call without its grant is caught", func(t *testing.T) {
		// The invoices function reading the vault table: a call its role was never given.
		rec := &stacktest.Recorder{}
		db := dynamodb.NewFromConfig(rec.Tag("invoices", s.Env.AWS))
		if _, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName: aws.String(s.Env.Config.VaultTable),
			Key:       map[string]ddbtypes.AttributeValue{resources.PK: &ddbtypes.AttributeValueMemberS{Value: "TOK#x"}, resources.SK: &ddbtypes.AttributeValueMemberS{Value: "TOK"}},
		}); err != nil {
			t.Fatal(err)
		}
		_, fails := checkCalls(p, l, rec.Calls())
		want := fmt.Sprintf("function invoices calls dynamodb:GetItem on %s", l.tableARN(s.Env.Config.VaultTable))
		if len(fails) != 1 || !strings.HasPrefix(fails[0], want) {
			t.Fatalf("failures %q, want one starting %q", fails, want)
		}
		t.Logf("caught: %s", fails[0])
	})
}

// removeStatement returns a copy of the templates without the statements with this Sid in one stack's
// IAM policies.
func removeStatement(t *testing.T, tpls map[string]cfn.Template, stack, sid string) map[string]cfn.Template {
	t.Helper()
	b, err := json.Marshal(tpls)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]cfn.Template
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, r := range out[stack].Resources {
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		doc := r.Properties["PolicyDocument"].(map[string]any)
		var kept []any
		for _, s := range cfn.List(doc["Statement"]) {
			if cfn.Get(s, "Sid") == sid {
				removed++
				continue
			}
			kept = append(kept, s)
		}
		doc["Statement"] = kept
	}
	if removed == 0 {
		t.Fatalf("no statement %s in %s", sid, stack)
	}
	return out
}

// unexercisedRows renders the reasons of stacks.Unexercised and stacks.RuntimeGrants as rows of the
// table docs/compliance.md shows them in.
func unexercisedRows() []string {
	var rows []string
	for p, reasons := range stacks.Unexercised {
		for k, r := range reasons {
			rows = append(rows, fmt.Sprintf("| %s | `%s` | %s |", p, k, r))
		}
	}
	for k, r := range stacks.RuntimeGrants {
		rows = append(rows, fmt.Sprintf("| Lambda runtime and CDK | `%s` | %s |", k, r))
	}
	sort.Strings(rows)
	return rows
}

// TestComplianceDocListsUnexercisedGrants keeps docs/compliance.md's list of the grants no recorded
// call uses equal to the reasons beside the grants.
func TestComplianceDocListsUnexercisedGrants(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "compliance.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, row := range unexercisedRows() {
		if !strings.Contains(text, row+"\n") {
			t.Errorf("docs/compliance.md must have the row\n%s", row)
		}
	}
	// No stale row: every row of the section is a reason of today.
	_, section, _ := strings.Cut(text, "## Grants no recorded call uses")
	section, _, _ = strings.Cut(section, "\n## ")
	want := map[string]bool{}
	for _, row := range unexercisedRows() {
		want[row] = true
	}
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| permission ") && !want[line] {
			t.Errorf("docs/compliance.md has a row no reason in infra/stacks gives:\n%s", line)
		}
	}
}
