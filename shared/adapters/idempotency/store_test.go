package idempotency_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/idempotency"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

const principal, key = "pia", "order-7"

var hash = idempotency.Fingerprint("POST", "/v1/payments", []byte(`{"invoice_id":"in_x"}`))

func wantInUse(t *testing.T, err error) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) || p.Code != problem.IdempotencyKeyInUse {
		t.Fatalf("claim of a key another request holds: %v, want %s", err, problem.IdempotencyKeyInUse)
	}
}

// TestClaimWhoseAnswerWasLost: a claim DynamoDB applied but whose answer was lost is retried by the
// SDK; the retry meets the claim's own write and holds the key, while another request is refused.
func TestClaimWhoseAnswerWasLost(t *testing.T) {
	s := stacktest.New(t)
	cfg, faults := stacktest.InjectFaults(s.Env.AWS, 1)
	st := &idempotency.Store{DB: dynamodb.NewFromConfig(cfg), Table: s.Env.Config.BillingTable}
	faults.Set(stacktest.FaultRule{Service: "DynamoDB", Operation: "PutItem", P: 1, Faults: []stacktest.Fault{stacktest.Drop}, Limit: 1})
	c, saved, err := st.Begin(t.Context(), principal, key, hash)
	if err != nil || c == nil || saved != nil {
		t.Fatalf("claim whose answer was lost: %v %v %v, want the claim", c, saved, err)
	}
	if faults.Total() != 1 {
		t.Fatalf("faults: %s, want one lost answer", faults.Summary())
	}
	_, _, err = st.Begin(t.Context(), principal, key, hash)
	wantInUse(t, err)
}

// TestReleaseFreesOnlyItsOwnClaim: a release that is sent again (the SDK's retry after a lost answer)
// once the key was released and claimed by the client's next try leaves that claim alone: deleting
// it would let a third try run the same payment concurrently.
func TestReleaseFreesOnlyItsOwnClaim(t *testing.T) {
	s := stacktest.New(t)
	st := &idempotency.Store{DB: dynamodb.NewFromConfig(s.Env.AWS), Table: s.Env.Config.BillingTable}
	ctx := t.Context()
	first, _, err := st.Begin(ctx, principal, key, hash)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Begin(ctx, principal, key, hash); err != nil {
		t.Fatalf("the retry's claim after the release: %v", err)
	}
	if err := st.Release(ctx, first); err != nil {
		t.Fatalf("the first release, sent again: %v", err)
	}
	_, _, err = st.Begin(ctx, principal, key, hash)
	wantInUse(t, err)
}

// TestOnlyTheClaimHolderCompletes: a request whose claim was taken over (its lease ran out, as when
// its function died) cannot store its outcome over the claim of the request that took the key: its
// transaction fails, so the same request is never carried out twice.
func TestOnlyTheClaimHolderCompletes(t *testing.T) {
	s := stacktest.New(t)
	db := dynamodb.NewFromConfig(s.Env.AWS)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	st := &idempotency.Store{DB: db, Table: s.Env.Config.BillingTable, Clock: func() time.Time { return now }}
	ctx := t.Context()
	stale, _, err := st.Begin(ctx, principal, key, hash)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(idempotency.Lease + time.Second)
	holder, _, err := st.Begin(ctx, principal, key, hash)
	if err != nil {
		t.Fatalf("taking over a claim whose lease ran out: %v", err)
	}
	complete := func(c *idempotency.Claim) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			st.CompleteItem(c, idempotency.Response{Status: 201, ContentType: "application/json", Body: `{}`}),
		}})
		return err
	}
	if err := complete(stale); err == nil {
		t.Fatal("the request whose claim was taken over stored its outcome")
	}
	if err := complete(holder); err != nil {
		t.Fatalf("the claim's holder: %v", err)
	}
}
