package customermigration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/customermigration"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// putOldCustomer writes a customer item as it was stored before per-customer keys: the personal
// fields as plain attributes, no "personal" attribute and no key item.
func putOldCustomer(t testing.TB, db *dynamodb.Client, table string, c billing.Customer) {
	t.Helper()
	item, err := attributevalue.MarshalMap(c)
	if err != nil {
		t.Fatal(err)
	}
	item["pk"] = &types.AttributeValueMemberS{Value: "CUS#" + c.ID}
	item["sk"] = &types.AttributeValueMemberS{Value: "CUS"}
	item["gsi1pk"] = &types.AttributeValueMemberS{Value: "CUSTOMERS"}
	item["gsi1sk"] = &types.AttributeValueMemberS{Value: c.CreatedAt + "#" + c.ID}
	if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func oldCustomer(i int) billing.Customer {
	tax := fmt.Sprintf("DE%09d", 100000000+i)
	now := time.Now().UTC().Add(time.Duration(i) * time.Second).Format(time.RFC3339)
	return billing.Customer{
		ID: ids.New(ids.Customer), Name: fmt.Sprintf("Legacy Lorelei %d", i), Email: fmt.Sprintf("lorelei.legacy%d@example.com", i),
		Address: &billing.Address{Line1: fmt.Sprintf("%d Old Format Lane", i), City: "Berlin", PostalCode: "10115", Country: "DE"},
		TaxID:   &tax, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
}

func migrator(s *devstack.Stack, cfg aws.Config) *customermigration.Migrator {
	db := dynamodb.NewFromConfig(cfg)
	keys := customerkeys.New(kms.NewFromConfig(cfg), db, s.Env.Config.BillingTable, s.Env.Config.DataKeyID)
	return &customermigration.Migrator{
		DB: db, Store: &billingdb.Store{DB: db, Table: s.Env.Config.BillingTable, Keys: keys}, Keys: keys,
		Audit: &customermigration.Auditor{Store: &audit.Store{DB: db, Table: s.Env.Config.AuditTable}, Principal: "cli:test"},
	}
}

func scanAll(t testing.TB, db *dynamodb.Client, table string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := db.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// TestMigrateOldFormatCustomers: customers written in the format before per-customer keys are moved
// under keys of their own by a run interrupted after two customers and run again; they then read
// through the API with the same values, no name or email is left in clear anywhere at rest, an
// erased customer gets no key, and a further run changes nothing.
func TestMigrateOldFormatCustomers(t *testing.T) {
	s := stacktest.New(t)
	db := dynamodb.NewFromConfig(s.Env.AWS)
	table := s.Env.Config.BillingTable
	const n = 5
	var olds []billing.Customer
	for i := range n {
		c := oldCustomer(i)
		putOldCustomer(t, db, table, c)
		olds = append(olds, c)
	}
	erasedAt := time.Now().UTC().Format(time.RFC3339)
	erased := billing.Customer{ID: ids.New(ids.Customer), CreatedAt: erasedAt, UpdatedAt: erasedAt, Version: 2, Erased: true, ErasedAt: &erasedAt}
	putOldCustomer(t, db, table, erased)

	m := migrator(s, s.Env.AWS)
	m.Workers = 1 // the interruption comes after exactly two customers
	crash, stop := context.WithCancel(t.Context())
	done := 0
	m.Progress = func(migrated bool) {
		if done++; done == 2 {
			stop()
		}
	}
	first, err := m.Run(crash)
	stop()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %+v %v, want context.Canceled", first, err)
	}
	m.Progress = nil
	second, err := m.Run(t.Context())
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if first.Migrated+second.Migrated != n || second.Erased != 1 {
		t.Errorf("runs: %+v then %+v; want %d migrated over both, the erased customer left alone", first, second, n)
	}

	token := stacktest.Token(t, s, devstack.TokenSpec{Role: "billing", Subject: "billing-migrate"})
	for _, want := range olds {
		resp, body := stacktest.Do(t, s, "GET", "/v1/customers/"+want.ID, token, "")
		var got billing.Customer
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("read %s: %d %s", want.ID, resp.StatusCode, body)
		}
		if got.Name != want.Name || got.Email != want.Email || !reflect.DeepEqual(got.Address, want.Address) ||
			got.TaxID == nil || *got.TaxID != *want.TaxID || got.CreatedAt != want.CreatedAt {
			t.Errorf("read %s after the migration: %+v, want %+v", want.ID, got, want)
		}
	}
	resp, body := stacktest.Do(t, s, "GET", "/v1/customers/"+erased.ID, token, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"erased":true`) {
		t.Errorf("erased customer after the migration: %d %s", resp.StatusCode, body)
	}

	keys := 0
	for _, it := range scanAll(t, db, table) {
		pk := it["pk"].(*types.AttributeValueMemberS).Value
		if pk == customerkeys.PKPrefix+erased.ID {
			t.Errorf("the erased customer got a key")
		}
		if strings.HasPrefix(pk, customerkeys.PKPrefix) {
			keys++
		}
	}
	if keys != n {
		t.Errorf("%d key items, want %d", keys, n)
	}
	var plain []string
	for _, c := range olds {
		plain = append(plain, c.Name, c.Email, c.Address.Line1, *c.TaxID)
	}
	if found := stacktest.StringsAtRest(t, s, plain...); len(found) > 0 {
		t.Errorf("personal data in clear at rest after the migration:\n%s", strings.Join(found, "\n"))
	}

	before := scanAll(t, db, table)
	again, err := m.Run(t.Context())
	if err != nil || again.Migrated != 0 || again.Changed != 0 {
		t.Errorf("third run: %+v %v; want nothing migrated", again, err)
	}
	if after := scanAll(t, db, table); !reflect.DeepEqual(sorted(before), sorted(after)) {
		t.Errorf("a run with nothing to migrate changed the table")
	}

	// Each run left one audit record: counts only, the interrupted one marked failed.
	var failed, ok int
	for _, it := range scanAll(t, db, s.Env.Config.AuditTable) {
		rec, err := audit.Decode(it)
		if err != nil {
			t.Fatal(err)
		}
		if rec.EventName != customermigration.MigrateEvent {
			continue
		}
		if rec.ErrorCode != "" {
			failed++
		} else {
			ok++
		}
	}
	if failed != 1 || ok != 2 {
		t.Errorf("audit records of the runs: %d failed, %d ok; want 1 and 2", failed, ok)
	}
}

func sorted(items []map[string]types.AttributeValue) map[string]map[string]types.AttributeValue {
	out := map[string]map[string]types.AttributeValue{}
	for _, it := range items {
		out[it["pk"].(*types.AttributeValueMemberS).Value+"/"+it["sk"].(*types.AttributeValueMemberS).Value] = it
	}
	return out
}
