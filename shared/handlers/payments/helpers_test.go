package payments_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/handlers/payments"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/wiring"
	cardwiring "github.com/vaultbill/vaultbill/shared/wiring/cards"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// client talks to one local stack as one principal.
type client = stacktest.Client

var newClient = stacktest.NewClient

// payStack is a local stack whose payments function runs over a sandbox the test can count, a
// DynamoDB client the test can make fail, and a clock the test can move.
type payStack struct {
	t       testing.TB
	s       *devstack.Stack
	sandbox *processor.Sandbox
	db      *faultyDB
	h       *payments.Handlers
	store   *billingdb.Store
	clock   *stacktest.Clock
	billing *client
	pay     *client
	// env is what the payments function is wired from (the stack's, or one with instrumented clients).
	env wiring.Env
}

func newPayStack(t testing.TB) *payStack {
	t.Helper()
	s := stacktest.New(t)
	ps := &payStack{t: t, s: s, sandbox: processor.NewSandbox(), clock: &stacktest.Clock{}, env: s.Env}
	ps.wire(nil)
	ps.billing = newClient(t, s, "billing", "")
	ps.pay = newClient(t, s, "payments", "")
	return ps
}

// wire (re)builds the stack's payments function over the test's sandbox, clock and DynamoDB client,
// and over kmsClient (the stack's KMS when nil).
func (ps *payStack) wire(kmsClient envelope.KMS) {
	ps.t.Helper()
	svc, err := wiring.Service(ps.env, routes.Payments)
	if err != nil {
		ps.t.Fatal(err)
	}
	ps.db = &faultyDB{DB: svc.DB}
	svc.DB = ps.db
	c := ps.env.Config
	raw := dynamodb.NewFromConfig(ps.env.AWS)
	ps.store = &billingdb.Store{DB: raw, Table: c.BillingTable}
	var v *vault.Vault
	if kmsClient == nil {
		v = cardwiring.Vault(ps.env, raw)
	} else {
		v = vault.New(vault.Config{DB: raw, KMS: kmsClient, Table: c.VaultTable, KeyID: c.VaultKeyID, Audit: &audit.Store{DB: raw, Table: c.AuditTable}})
	}
	limiter, err := cardwiring.Limiter(ps.env, raw)
	if err != nil {
		ps.t.Fatal(err)
	}
	ps.h = payments.Routes(svc, payments.Deps{Store: ps.store, Vault: v, Processor: ps.sandbox, Attempts: limiter})
	ps.h.Clock = ps.clock.Now
	ps.s.Gateway.Functions[routes.Payments] = svc.Serve
}

func payBody(token string) string { return fmt.Sprintf(`{"token":%q}`, token) }

func (ps *payStack) payments(invoiceID string) []billing.Payment {
	ps.t.Helper()
	list, err := stacktest.BillingStore(ps.s).InvoicePayments(context.Background(), invoiceID)
	if err != nil {
		ps.t.Fatal(err)
	}
	return list
}

// statuses counts payments by status.
func statuses(list []billing.Payment) map[billing.PaymentStatus]int {
	out := map[billing.PaymentStatus]int{}
	for _, p := range list {
		out[p.Status]++
	}
	return out
}

// faultyDB is the function's DynamoDB client with injected faults (stacktest.FaultyDB).
type faultyDB = stacktest.FaultyDB

// failingKMS is the stack's KMS while it refuses to decrypt, as KMS does when it is throttled or down.
type failingKMS struct{ envelope.KMS }

func (failingKMS) Decrypt(context.Context, *kms.DecryptInput, ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "KMSInternalException", Message: "injected KMS outage"}
}

// assertNoCardNumber fails if a card number appears in the test binary's logs or in body.
func assertNoCardNumber(t testing.TB, body string, numbers ...string) {
	t.Helper()
	logs := stacktest.Logs.String()
	for _, n := range numbers {
		for _, form := range []string{n, n[len(n)-12:]} {
			if strings.Contains(logs, form) {
				t.Errorf("a card number appears in the logs")
			}
			if strings.Contains(body, form) {
				t.Errorf("a card number appears in a response body: %s", body)
			}
		}
	}
}

var _ = http.StatusOK
