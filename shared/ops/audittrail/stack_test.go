package audittrail_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
	trailwiring "github.com/vaultbill/vaultbill/shared/wiring/audittrail"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// trail is a local stack with a simulated clock driving the shipper and the digest schedule.
type trail struct {
	s     *devstack.Stack
	s3    *s3.Client
	clock time.Time
	mu    sync.Mutex
}

func newTrail(t *testing.T) *trail {
	s := stacktest.New(t)
	tr := &trail{s: s, s3: s3client.New(s.Env.AWS)}
	// Hours in the recent past, so the validator's default end time (now) covers them.
	tr.clock = time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	now := func() time.Time { tr.mu.Lock(); defer tr.mu.Unlock(); return tr.clock }
	s.Audit.Clock, s.Audit.Shipper.Clock = now, now
	return tr
}

func (tr *trail) set(t time.Time) { tr.mu.Lock(); tr.clock = t; tr.mu.Unlock() }

func (tr *trail) now() time.Time { tr.mu.Lock(); defer tr.mu.Unlock(); return tr.clock }

// traffic sends requests through the gateway: allowed, refused without MFA, and with a bad token.
func (tr *trail) traffic(t *testing.T, n int) {
	t.Helper()
	good := stacktest.Token(t, tr.s, devstack.TokenSpec{Role: "auditor", Subject: "audrey"})
	noMFA := stacktest.Token(t, tr.s, devstack.TokenSpec{Role: "billing", Subject: "bob", NoMFA: true})
	for i := range n {
		switch i % 3 {
		case 0:
			stacktest.Do(t, tr.s, "GET", "/v1/me", good, "")
		case 1:
			stacktest.Do(t, tr.s, "GET", "/v1/audit-events?limit=5", good, "")
		case 2:
			stacktest.Do(t, tr.s, "GET", "/v1/me", noMFA, "")
		}
	}
}

func (tr *trail) ship(t *testing.T) {
	t.Helper()
	if _, err := tr.s.Audit.ShipNow(context.Background()); err != nil {
		t.Fatalf("ship: %v", err)
	}
}

// hours runs n simulated hours: traffic shipped during each hour, then the hourly digest.
func (tr *trail) hours(t *testing.T, n int) []string {
	t.Helper()
	start := tr.clock
	var digests []string
	for h := range n {
		tr.set(start.Add(time.Duration(h)*time.Hour + 10*time.Minute))
		tr.traffic(t, 6)
		tr.ship(t)
		tr.set(start.Add(time.Duration(h)*time.Hour + 40*time.Minute))
		tr.traffic(t, 3)
		tr.ship(t)
		tr.set(start.Add(time.Duration(h+1)*time.Hour + audittrail.DefaultLag))
		res, err := tr.s.Audit.DigestNow(context.Background())
		if err != nil || res.Skipped {
			t.Fatalf("digest: %+v %v", res, err)
		}
		digests = append(digests, res.Key)
	}
	return digests
}

func (tr *trail) validate(t *testing.T) audittrail.Report {
	t.Helper()
	v, err := trailwiring.Validator(tr.s.Env)
	if err != nil {
		t.Fatal(err)
	}
	// The range ends at the simulated clock: a range beyond the newest digest is reported as such.
	rep, err := v.Validate(context.Background(), time.Now().Add(-24*time.Hour), tr.now())
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	return rep
}

func (tr *trail) bucket() *string { return aws.String(tr.s.Env.Config.AuditBucket) }

func (tr *trail) logKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(tr.s3, &s3.ListObjectsV2Input{Bucket: tr.bucket(), Prefix: aws.String("AWSLogs/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if _, ok := audittrail.LogKeyTime(*o.Key); ok {
				keys = append(keys, *o.Key)
			}
		}
	}
	return keys
}

func (tr *trail) get(t *testing.T, key string) ([]byte, map[string]string) {
	t.Helper()
	out, err := tr.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: tr.bucket(), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	body, err := audittrail.Gunzip(b)
	if err != nil {
		t.Fatal(err)
	}
	return body, out.Metadata
}

func (tr *trail) put(t *testing.T, key string, body []byte, meta map[string]string) {
	t.Helper()
	if _, err := tr.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: tr.bucket(), Key: aws.String(key), Body: bytes.NewReader(audittrail.Gzip(body)),
		Metadata: meta, ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
	}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func (tr *trail) del(t *testing.T, key string) {
	t.Helper()
	if _, err := tr.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: tr.bucket(), Key: aws.String(key)}); err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
}

// eventIDs counts each eventID over every log file.
func (tr *trail) eventIDs(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, k := range tr.logKeys(t) {
		body, _ := tr.get(t, k)
		ids, _, _, err := audittrail.ParseLogFile(body)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, id := range ids {
			out[id]++
		}
	}
	return out
}

func (tr *trail) tableIDs(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	p := dynamodb.NewScanPaginator(dynamodb.NewFromConfig(tr.s.Env.AWS), &dynamodb.ScanInput{TableName: aws.String(tr.s.Env.Config.AuditTable)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			if _, ledger := item[audittrail.KindAttr]; ledger {
				continue // the shipper's record of a log file
			}
			rec, err := audit.Decode(item)
			if err != nil {
				t.Fatal(err)
			}
			out[rec.EventID] = true
		}
	}
	return out
}

// TestTrailMatchesTableAndValidates: requests through the gateway end up in log files whose records
// are the audit table's one to one, and a digest chain over several hours validates.
func TestTrailMatchesTableAndValidates(t *testing.T) {
	tr := newTrail(t)
	digests := tr.hours(t, 4)
	table, files := tr.tableIDs(t), tr.eventIDs(t)
	if len(table) == 0 {
		t.Fatal("no audit records")
	}
	for id := range table {
		if files[id] != 1 {
			t.Errorf("event %s is in %d log files, want 1", id, files[id])
		}
	}
	for id := range files {
		if !table[id] {
			t.Errorf("log files hold event %s the table does not", id)
		}
	}
	// Many records per object: 6 hours of traffic shipped in two polls an hour.
	if puts, recs := tr.s.Audit.Shipper.Stats(); puts != 8 || recs != int64(len(table)) {
		t.Errorf("%d PUTs for %d records; want 8 PUTs for %d", puts, recs, len(table))
	}
	rep := tr.validate(t)
	dv, d, lv, l := rep.Counts()
	if !rep.OK() || d != len(digests) || l != 8 || rep.Events != len(table) {
		t.Errorf("validation: digests %d/%d, log files %d/%d, events %d (table %d)\n%+v", dv, d, lv, l, rep.Events, len(table), rep.Results)
	}
}

// TestTrailHoldsNoSecrets scans every log file for card numbers, cvc values, tokens and key material.
func TestTrailHoldsNoSecrets(t *testing.T) {
	tr := newTrail(t)
	tok := stacktest.Token(t, tr.s, devstack.TokenSpec{Role: "admin", Subject: "ada"})
	// Clients sometimes put secrets in URLs; the runtime redacts request parameters before recording.
	for _, q := range []string{"principal=4242424242424242", "event_name=cvc-123", "resource_id=5555555555554444", "cursor=" + tok} {
		stacktest.Do(t, tr.s, "GET", "/v1/audit-events?"+q, tok, "")
	}
	stacktest.Do(t, tr.s, "GET", "/v1/me", "Bearer-garbage."+tok, "")
	tr.ship(t)
	var all strings.Builder
	for _, k := range tr.logKeys(t) {
		body, _ := tr.get(t, k)
		all.Write(body)
	}
	text := all.String()
	if !strings.Contains(text, "ListAuditEvents") {
		t.Fatal("requests were not shipped")
	}
	for _, secret := range []string{"4242424242424242", "5555555555554444", tok, strings.Split(tok, ".")[2], "eyJ", "BEGIN"} {
		if strings.Contains(text, secret) {
			t.Errorf("a log file holds %.16q", secret)
		}
	}
	if m := regexp.MustCompile(`\b\d{13,19}\b`).FindString(text); m != "" {
		t.Errorf("a log file holds a card-length number %s", m)
	}
}

// failingS3 fails the PUT calls it is told to, and passes the rest to S3.
type failingS3 struct {
	audittrail.PutObjectAPI
	mu    sync.Mutex
	calls int
	fail  map[int]bool
}

func (f *failingS3) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.mu.Lock()
	f.calls++
	fail := f.fail[f.calls]
	f.mu.Unlock()
	if fail {
		return nil, errors.New("injected: S3 unavailable")
	}
	return f.PutObjectAPI.PutObject(ctx, in, opts...)
}

// TestShipperFailureLosesNothing fails a PUT in the middle of a batch: after the retry every record of
// the table is in S3.
func TestShipperFailureLosesNothing(t *testing.T) {
	tr := newTrail(t)
	tr.traffic(t, 30)
	sh := tr.s.Audit.Shipper
	sh.MaxRecords = 7
	sh.S3 = &failingS3{PutObjectAPI: sh.S3, fail: map[int]bool{3: true}}
	if _, err := tr.s.Audit.ShipNow(context.Background()); err == nil {
		t.Fatal("a failed PUT went unreported")
	}
	if !strings.Contains(stacktest.Logs.String(), `"rule":"audit-pipeline-failure"`) {
		t.Error("the pipeline failure raised no alert")
	}
	tr.ship(t) // the retry, as Lambda runs it
	table, files := tr.tableIDs(t), tr.eventIDs(t)
	for id := range table {
		if files[id] == 0 {
			t.Errorf("event %s lost", id)
		}
	}
	if len(files) != len(table) {
		t.Errorf("%d distinct events in S3, %d in the table", len(files), len(table))
	}
}

// tampered builds a trail of three digests and returns it with its digest keys and log files.
func tampered(t *testing.T) (*trail, []string, []string) {
	t.Helper()
	tr := newTrail(t)
	digests := tr.hours(t, 3)
	if rep := tr.validate(t); !rep.OK() {
		t.Fatalf("trail invalid before tampering: %+v", rep.Results)
	}
	return tr, digests, tr.logKeys(t)
}

// wantInvalid checks that the validator reports key (exactly one result) as invalid for reason.
func wantInvalid(t *testing.T, rep audittrail.Report, kind, key, reason string) {
	t.Helper()
	if rep.OK() {
		t.Fatalf("tampering went unnoticed: %+v", rep.Results)
	}
	for _, r := range rep.Results {
		if r.Kind == kind && r.Key == key {
			if r.Valid || !strings.HasPrefix(r.Reason, reason) {
				t.Errorf("%s %s: valid=%v reason %q, want invalid: %s", kind, key, r.Valid, r.Reason, reason)
			}
			return
		}
	}
	t.Errorf("no result for %s %s in %+v", kind, key, rep.Results)
}

func TestValidatorDetectsModifiedLogFile(t *testing.T) {
	tr, _, logs := tampered(t)
	body, _ := tr.get(t, logs[1])
	tr.put(t, logs[1], bytes.Replace(body, []byte(`"GetMe"`), []byte(`"GetMX"`), 1), nil)
	wantInvalid(t, tr.validate(t), audittrail.KindLog, logs[1], audittrail.ReasonHashMismatch)
}

func TestValidatorDetectsDeletedLogFile(t *testing.T) {
	tr, _, logs := tampered(t)
	tr.del(t, logs[2])
	wantInvalid(t, tr.validate(t), audittrail.KindLog, logs[2], audittrail.ReasonNotFound)
}

func TestValidatorDetectsMovedLogFile(t *testing.T) {
	tr, _, logs := tampered(t)
	body, _ := tr.get(t, logs[0])
	moved := logs[0][:strings.LastIndex(logs[0], "_")+1] + "MOVEDMOVEDMOVED1.json.gz"
	tr.put(t, moved, body, nil)
	tr.del(t, logs[0])
	rep := tr.validate(t)
	wantInvalid(t, rep, audittrail.KindLog, logs[0], audittrail.ReasonMoved)
	wantInvalid(t, rep, audittrail.KindLog, moved, audittrail.ReasonNotInAnyDigest)
}

func TestValidatorDetectsRemovedRecord(t *testing.T) {
	tr, _, logs := tampered(t)
	body, _ := tr.get(t, logs[1])
	var f audittrail.LogFile
	if err := json.Unmarshal(body, &f); err != nil || len(f.Records) < 2 {
		t.Fatalf("log file: %v", err)
	}
	tr.put(t, logs[1], audittrail.EncodeLogFile(f.Records[1:]), nil)
	wantInvalid(t, tr.validate(t), audittrail.KindLog, logs[1], audittrail.ReasonHashMismatch)
}

func TestValidatorDetectsModifiedDigest(t *testing.T) {
	tr, digests, logs := tampered(t)
	body, meta := tr.get(t, digests[1])
	// Hide a log file from the digest, keeping its signature.
	tr.put(t, digests[1], bytes.Replace(body, []byte(logs[2]), []byte(logs[0]), 1), meta)
	wantInvalid(t, tr.validate(t), audittrail.KindDigest, digests[1], audittrail.ReasonSignature)
}

func TestValidatorDetectsDeletedDigest(t *testing.T) {
	tr, digests, _ := tampered(t)
	tr.del(t, digests[1])
	wantInvalid(t, tr.validate(t), audittrail.KindDigest, digests[1], audittrail.ReasonNotFound)
}

func TestValidatorDetectsDigestSignedWithAnotherKey(t *testing.T) {
	tr, digests, _ := tampered(t)
	body, _ := tr.get(t, digests[2])
	var d audittrail.Digest
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	d.LogFiles = d.LogFiles[:0]
	d.DigestPublicKeyFingerprint = audittrail.Fingerprint(&other.PublicKey)
	forged, _ := json.Marshal(d)
	sum := sha256.Sum256([]byte(audittrail.SigningString(&d, audittrail.HashHex(forged))))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, other, crypto.SHA256, sum[:])
	tr.put(t, digests[2], forged, map[string]string{audittrail.MetaSignature: hex.EncodeToString(sig), audittrail.MetaSignatureAlgorithm: audittrail.SignatureAlgorithm})
	wantInvalid(t, tr.validate(t), audittrail.KindDigest, digests[2], audittrail.ReasonUnknownKey)
}

// TestValidatorDetectsBrokenChain replaces a digest with one that is validly signed (by someone who
// may use the signing key) but leaves a log file out: the next digest's chained hash exposes it.
func TestValidatorDetectsBrokenChain(t *testing.T) {
	tr, digests, _ := tampered(t)
	body, _ := tr.get(t, digests[1])
	var d audittrail.Digest
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	d.LogFiles = d.LogFiles[1:]
	forged, _ := json.Marshal(d)
	dg, err := trailwiring.Digest(tr.s.Env)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := audittrail.SignDigest(context.Background(), dg.Digester.KMS, dg.Digester.KeyID, &d, forged)
	if err != nil {
		t.Fatal(err)
	}
	tr.put(t, digests[1], forged, map[string]string{audittrail.MetaSignature: sig, audittrail.MetaSignatureAlgorithm: audittrail.SignatureAlgorithm})
	wantInvalid(t, tr.validate(t), audittrail.KindDigest, digests[1], audittrail.ReasonHashMismatch)
}

func TestValidatorDetectsMovedDigest(t *testing.T) {
	tr, digests, _ := tampered(t)
	body, meta := tr.get(t, digests[2])
	moved := digests[2][:len(digests[2])-len("00Z.json.gz")] + "30Z.json.gz"
	tr.put(t, moved, body, meta)
	tr.del(t, digests[2])
	wantInvalid(t, tr.validate(t), audittrail.KindDigest, moved, audittrail.ReasonMoved)
}

// batchOf builds a stream batch of n audit records, as Lambda delivers it.
func batchOf(n, first int) events.DynamoDBEvent {
	var ev events.DynamoDBEvent
	now := audit.FormatTime(time.Now())
	for i := range n {
		r := audit.Record{
			EventVersion: audit.EventVersion, EventID: audit.NewEventID(), EventTime: now, EventSource: "invoices.vaultbill",
			EventName: "GetInvoice", EventType: audit.TypeAPICall, ReadOnly: true, SourceIPAddress: "203.0.113.9",
			UserIdentity: audit.UserIdentity{Type: "CognitoUser", PrincipalID: "bench", Role: "billing",
				SessionContext: audit.SessionContext{Attributes: audit.SessionAttributes{MFAAuthenticated: "true"}}},
			RequestID: "6a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", UserAgent: "Mozilla/5.0",
			RequestParameters: map[string]string{"id": "in_0123456789abcdef0123456789abcdef"},
			ResponseElements:  map[string]string{"id": "in_0123456789abcdef0123456789abcdef", "object": "invoice"},
		}
		b, _ := json.Marshal(r)
		ev.Records = append(ev.Records, events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
			SequenceNumber: strconv.Itoa(first + i),
			NewImage:       map[string]events.DynamoDBAttributeValue{"record": events.NewStringAttribute(string(b))},
		}})
	}
	return ev
}

// BenchmarkShipperEmulator ships batches of 1,000 records (the event source's batch size) to S3 on the
// emulator and reports records per PUT and the S3 PUT cost per million audit events.
func BenchmarkShipperEmulator(b *testing.B) {
	s := stacktest.New(b)
	sh := s.Audit.Shipper
	ev := batchOf(1000, 1)
	b.ResetTimer()
	for range b.N {
		if resp, err := sh.Handle(context.Background(), ev); err != nil || len(resp.BatchItemFailures) > 0 {
			b.Fatalf("%v %v", resp, err)
		}
	}
	puts, n := sh.Stats()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(n)/float64(puts), "records/PUT")
	b.ReportMetric(float64(puts)/float64(n)*1e6*0.005/1000, "$PUT/1M-events")
}

// BenchmarkValidateEmulator validates a day of hourly digests with 4 log files of 250 records an hour.
func BenchmarkValidateEmulator(b *testing.B) {
	s := stacktest.New(b)
	base := time.Now().UTC().Truncate(time.Hour).Add(-25 * time.Hour)
	clock := base
	s.Audit.Clock = func() time.Time { return clock }
	s.Audit.Shipper.Clock = s.Audit.Clock
	for h := range 24 {
		for f := range 4 {
			clock = base.Add(time.Duration(h)*time.Hour + time.Duration(f*10)*time.Minute)
			if _, err := s.Audit.Shipper.Handle(context.Background(), batchOf(250, 1)); err != nil {
				b.Fatal(err)
			}
		}
		clock = base.Add(time.Duration(h+1)*time.Hour + audittrail.DefaultLag)
		if _, err := s.Audit.DigestNow(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	v, err := trailwiring.Validator(s.Env)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	files := 0
	for range b.N {
		rep, err := v.Validate(context.Background(), base, clock)
		if err != nil || !rep.OK() {
			b.Fatalf("%v %+v", err, rep.Results)
		}
		files += len(rep.Results)
	}
	b.ReportMetric(float64(files)/b.Elapsed().Seconds(), "files/s")
}
