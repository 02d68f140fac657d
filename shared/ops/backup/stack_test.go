package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	cardvault "github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// calls counts SDK operations by "Service.Operation", through a middleware on every client.

// env is one stack with a runner whose SDK calls are counted.
type env struct {
	s       *devstack.Stack
	r       *backup.Runner
	metrics *bytes.Buffer
	// billingOnly makes seed fill the billing table alone (benchmarks).
	billingOnly bool
	calls       *stacktest.Calls
	db          *dynamodb.Client
	kms         *kms.Client
	s3          *s3.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s := stacktest.New(t)
	e := s.Env
	cfg, c := stacktest.CountCalls(s.Env.AWS)
	e.AWS = cfg
	r, err := backupwiring.NewRestoreTest(e, "test")
	if err != nil {
		t.Fatal(err)
	}
	metrics := &bytes.Buffer{}
	r.Metrics = metrics
	return &env{s: s, r: r, metrics: metrics, calls: c, db: dynamodb.NewFromConfig(s.Env.AWS), kms: kms.NewFromConfig(s.Env.AWS), s3: s3client.New(s.Env.AWS)}
}

// Cards seeded into the vault. Their numbers and cvcs must never appear in a backup.
var cards = []struct{ number, cvc string }{
	{"4242424242424242", "9071"}, {"5555555555554444", "8163"}, {"4000000000000002", "7254"}, {"4000000000009995", "6345"},
}

// seed writes items of every kind: billing (customers, invoices with lines, payments, counters,
// idempotency records), vault tokens sealed like the vault does (card data under a data key wrapped
// by the vault key), and audit records. n scales the counts.
func (e *env) seed(t testing.TB, n int) map[string]int {
	t.Helper()
	ctx := context.Background()
	c := e.s.Env.Config
	var billing, vault, auditItems []map[string]types.AttributeValue
	for i := range n {
		cus := fmt.Sprintf("cus_%032x", i)
		billing = append(billing, map[string]types.AttributeValue{
			"pk": s("CUS#" + cus), "sk": s("CUSTOMER"), "gsi1pk": s("CUSTOMERS"), "gsi1sk": s(fmt.Sprintf("%010d", i)),
			"name": s(fmt.Sprintf("Customer %d — Ünïcödé", i)), "email": s(fmt.Sprintf("c%d@example.com", i)),
			"address": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"city": s("Basel"), "country": s("CH"), "line2": s("")}},
			"tags":    &types.AttributeValueMemberSS{Value: []string{"vip", fmt.Sprint("t", i%7)}},
		})
		inv := fmt.Sprintf("in_%032x", i)
		billing = append(billing, map[string]types.AttributeValue{
			"pk": s("INV#" + inv), "sk": s("INVOICE"), "gsi1pk": s("CUS#" + cus), "gsi1sk": s("INV#" + inv),
			"gsi2pk": s("STATUS#open"), "gsi2sk": s(fmt.Sprintf("%010d", i)),
			"total": num(int64(i) * 1999), "currency": s("EUR"), "paid": &types.AttributeValueMemberBOOL{Value: i%2 == 0},
			"memo": &types.AttributeValueMemberNULL{Value: true}, "taxRates": &types.AttributeValueMemberNS{Value: []string{"0", "770"}},
			"lines": &types.AttributeValueMemberL{Value: []types.AttributeValue{
				&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"description": s("Hosting"), "quantity": num(2), "unit_amount": num(999)}},
				&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"description": s("Support"), "quantity": num(1), "unit_amount": num(1)}},
			}},
		})
		if i%3 == 0 {
			billing = append(billing, map[string]types.AttributeValue{
				"pk": s("INV#" + inv), "sk": s(fmt.Sprintf("PAY#pay_%032x", i)), "amount": num(1999), "status": s("succeeded"),
				"digests": &types.AttributeValueMemberBS{Value: [][]byte{{1, 2}, {3}}},
			})
			billing = append(billing, map[string]types.AttributeValue{
				"pk": s(fmt.Sprintf("IDEM#billing-user#key-%d", i)), "sk": s("IDEM"), "expiresAt": num(time.Now().Add(24 * time.Hour).Unix()),
				"status": num(201), "body": &types.AttributeValueMemberB{Value: []byte(`{"id":"` + inv + `"}`)},
			})
		}
		a := audit.Record{EventVersion: audit.EventVersion, EventID: audit.NewEventID(), EventTime: audit.FormatTime(time.Now()),
			EventSource: "invoices.vaultbill", EventName: "CreateInvoice", EventType: audit.TypeAPICall,
			UserIdentity: audit.UserIdentity{Type: "CognitoUser", PrincipalID: "billing-user"}, RequestID: fmt.Sprint("req-", i),
			ResponseElements: map[string]string{"id": inv}}
		item, err := audit.Item(a)
		if err != nil {
			t.Fatal(err)
		}
		auditItems = append(auditItems, item)
	}
	// Vault tokens: one data key per 50 cards, as a caching vault would.
	var dk *kms.GenerateDataKeyOutput
	for i := range n / 2 {
		if i%50 == 0 {
			var err error
			if dk, err = e.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(c.VaultKeyID), KeySpec: ktypes.DataKeySpecAes256, EncryptionContext: cardvault.CardDataContext}); err != nil {
				t.Fatal(err)
			}
		}
		card := cards[i%len(cards)]
		tok := fmt.Sprintf("tok_%032x", i)
		block, _ := aes.NewCipher(dk.Plaintext)
		gcm, _ := cipher.NewGCM(block)
		nonce := make([]byte, gcm.NonceSize())
		_, _ = rand.Read(nonce)
		plain := []byte(`{"number":"` + card.number + `","cvc":"` + card.cvc + `","exp":"12/2031"}`)
		vault = append(vault, map[string]types.AttributeValue{
			"pk": s("TOK#" + tok), "sk": s("TOKEN"), "gsi1pk": s(fmt.Sprintf("CUS#cus_%032x", i)), "gsi1sk": s("TOK#" + tok),
			"ciphertext": &types.AttributeValueMemberB{Value: gcm.Seal(nonce, nonce, plain, []byte(tok))},
			"wrappedKey": &types.AttributeValueMemberB{Value: dk.CiphertextBlob},
			"last4":      s(card.number[12:]), "brand": s("visa"), "expYear": num(2031),
		})
	}
	e.batchPut(t, c.BillingTable, billing)
	if !e.billingOnly {
		e.batchPut(t, c.VaultTable, vault)
		e.batchPut(t, c.AuditTable, auditItems)
	}
	return map[string]int{"billing": len(billing), "vault": len(vault), "audit": len(auditItems)}
}

// batchPut writes items into table with BatchWriteItem, 25 at a time, 8 calls in flight.
func (e *env) batchPut(t testing.TB, table string, items []map[string]types.AttributeValue) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	chunks := slices.Collect(slices.Chunk(items, 25))
	work := make(chan []map[string]types.AttributeValue)
	for range 8 {
		wg.Go(func() {
			for chunk := range work {
				reqs := make([]types.WriteRequest, len(chunk))
				for i, it := range chunk {
					reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
				}
				for len(reqs) > 0 {
					out, err := e.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
					if err != nil {
						t.Error(err)
						return
					}
					reqs = out.UnprocessedItems[table]
				}
			}
		})
	}
	for _, ch := range chunks {
		work <- ch
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func s(v string) types.AttributeValue  { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }

// snapshot reads a whole table as canonical lines keyed by the item's primary key.
func (e *env) snapshot(t testing.TB, table string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := dynamodb.NewScanPaginator(e.db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for _, item := range page.Items {
			line, err := backup.EncodeItem(item)
			if err != nil {
				t.Fatal(err)
			}
			out[keyOf(item)] = string(line)
		}
	}
	return out
}

func keyOf(item map[string]types.AttributeValue) string {
	if id, ok := item["eventID"].(*types.AttributeValueMemberS); ok {
		return id.Value
	}
	return item["pk"].(*types.AttributeValueMemberS).Value + "|" + item["sk"].(*types.AttributeValueMemberS).Value
}

func (e *env) tableExists(t testing.TB, name string) bool {
	t.Helper()
	_, err := e.db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil && !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Fatalf("describe %s: %v", name, err)
	}
	return err == nil
}

func (e *env) deleteTable(t testing.TB, name string) {
	t.Helper()
	if _, err := e.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}

// scratchTables lists the tables the restore test may have left behind.
func (e *env) scratchTables(t testing.TB) []string {
	t.Helper()
	var out []string
	p := dynamodb.NewListTablesPaginator(e.db, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range page.TableNames {
			if strings.HasPrefix(n, backup.RestoreTestPrefix) {
				out = append(out, n)
			}
		}
	}
	return out
}

// openParts reads every part of a backup and decrypts it the way the manifest documents, returning
// the plaintext NDJSON: tests inspect what a backup really holds.
func (e *env) openParts(t testing.TB, m *backup.Manifest) (sealed, plain []byte) {
	t.Helper()
	ctx := context.Background()
	dk, err := e.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: m.WrappedKey, KeyId: aws.String(m.KeyID),
		EncryptionContext: map[string]string{"vaultbill:purpose": "backup", "backup": m.Table + "/" + m.ID}})
	if err != nil {
		t.Fatalf("unwrap data key: %v", err)
	}
	block, _ := aes.NewCipher(dk.Plaintext)
	gcm, _ := cipher.NewGCM(block)
	for _, p := range m.Parts {
		obj := e.getObject(t, p.Key)
		sealed = append(sealed, obj...)
		pt, err := gcm.Open(nil, obj[:12], obj[12:], []byte("vaultbill-backup/v1\x00"+p.Key))
		if err != nil {
			t.Fatalf("open part %s: %v", p.Key, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(pt))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, b...)
	}
	return sealed, plain
}

func (e *env) getObject(t testing.TB, key string) []byte {
	t.Helper()
	out, err := e.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(e.r.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

func (e *env) putObject(t testing.TB, key string, body []byte) {
	t.Helper()
	if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(e.r.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func (e *env) deleteObject(t testing.TB, key string) {
	t.Helper()
	if _, err := e.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(e.r.Bucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
}

func (e *env) manifest(t testing.TB, table, id string) *backup.Manifest {
	t.Helper()
	cats, err := e.r.List(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cats[0].Backups {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("no complete backup %s of %s", id, table)
	return nil
}

// auditEvents returns the audit records the backup code wrote.
func (e *env) auditEvents(t testing.TB, name string) []audit.Record {
	t.Helper()
	var out []audit.Record
	p := dynamodb.NewScanPaginator(e.db, &dynamodb.ScanInput{TableName: aws.String(e.s.Env.Config.AuditTable)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			rec, err := audit.Decode(item)
			if err != nil {
				t.Fatal(err)
			}
			if rec.EventSource == "backup.vaultbill" && rec.EventName == name {
				out = append(out, rec)
			}
		}
	}
	return out
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// emf is one Embedded Metric Format line.
type emf struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Table string
}

// metricValues returns metric name → table → value from the EMF lines written so far.
func (e *env) metricValues(t testing.TB) map[string]map[string]float64 {
	t.Helper()
	out := map[string]map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(e.metrics.String()), "\n") {
		var m emf
		var values map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || json.Unmarshal([]byte(line), &values) != nil {
			t.Fatalf("metric line is not JSON: %s", line)
		}
		if len(m.AWS.CloudWatchMetrics) != 1 || m.AWS.CloudWatchMetrics[0].Namespace != backup.Namespace || m.AWS.Timestamp == 0 {
			t.Fatalf("metric line is not EMF: %s", line)
		}
		for _, d := range m.AWS.CloudWatchMetrics[0].Metrics {
			v, ok := values[d.Name].(float64)
			if !ok {
				t.Fatalf("metric %s has no value: %s", d.Name, line)
			}
			if out[d.Name] == nil {
				out[d.Name] = map[string]float64{}
			}
			out[d.Name][m.Table] = v
		}
	}
	return out
}

func (e *env) nativeBackups(t testing.TB) int {
	t.Helper()
	n := 0
	for _, src := range e.r.Tables {
		out, err := e.db.ListBackups(context.Background(), &dynamodb.ListBackupsInput{TableName: aws.String(src.Name)})
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.BackupSummaries)
	}
	return n
}
