package customermigration_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// benchCustomers is how many old-format customers each run migrates.
const benchCustomers = 300

// BenchmarkMigrate is the migration rate against the emulator (customers/s) and its KMS calls per
// customer: each run migrates benchCustomers customers written in the old format before it; they
// are deleted after it (untimed), so every run sees a table of the same size. moto copies the whole
// table for every TransactWriteItems (to roll it back), so the rate it shows falls as the table
// grows; DynamoDB's does not.
//
//	go test -run '^$' -bench Migrate ./shared/ops/customermigration
func BenchmarkMigrate(b *testing.B) {
	s := stacktest.New(b)
	cfg, calls := stacktest.CountCalls(s.Env.AWS)
	db := dynamodb.NewFromConfig(s.Env.AWS)
	table := s.Env.Config.BillingTable
	m := migrator(s, cfg)
	var migrated, kmsCalls int
	var spent time.Duration
	for b.Loop() {
		b.StopTimer()
		var ids []string
		for i := range benchCustomers {
			c := oldCustomer(i)
			putOldCustomer(b, db, table, c)
			ids = append(ids, c.ID)
		}
		calls.Reset()
		b.StartTimer()
		start := time.Now()
		res, err := m.Run(b.Context())
		spent += time.Since(start)
		b.StopTimer()
		if err != nil || res.Migrated != benchCustomers {
			b.Fatalf("migrate: %+v %v", res, err)
		}
		migrated += res.Migrated
		kmsCalls += calls.Service("KMS")
		deleteCustomers(b, db, table, ids)
		b.StartTimer()
	}
	b.ReportMetric(float64(migrated)/spent.Seconds(), "customers/s")
	b.ReportMetric(float64(kmsCalls)/float64(migrated), "kms/customer")
}

// deleteCustomers deletes customers' items and key items.
func deleteCustomers(b *testing.B, db *dynamodb.Client, table string, ids []string) {
	var reqs []types.WriteRequest
	for _, id := range ids {
		for _, key := range []map[string]types.AttributeValue{
			{"pk": &types.AttributeValueMemberS{Value: "CUS#" + id}, "sk": &types.AttributeValueMemberS{Value: "CUS"}},
			customerkeys.ItemKey(id),
		} {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}})
		}
	}
	for len(reqs) > 0 {
		n := min(25, len(reqs))
		if _, err := db.BatchWriteItem(b.Context(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs[:n]}}); err != nil {
			b.Fatal(err)
		}
		reqs = reqs[n:]
	}
}
