package audittrail

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
)

var loc = Location{Bucket: "trail", Account: "123456789012", Region: "eu-west-1"}

func TestKeyNames(t *testing.T) {
	at := time.Date(2026, 3, 7, 9, 5, 42, 0, time.UTC)
	tests := []struct{ got, want string }{
		{loc.LogKey(at, "ABCDEFGHIJKLMNOP"), "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/03/07/123456789012_CloudTrail_eu-west-1_20260307T0905Z_ABCDEFGHIJKLMNOP.json.gz"},
		{loc.DigestKey(at), "AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2026/03/07/123456789012_CloudTrail-Digest_eu-west-1_vaultbill_eu-west-1_20260307T090542Z.json.gz"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("key (-want +got):\n%s", diff)
		}
	}
	if lt, ok := LogKeyTime(tests[0].got); !ok || !lt.Equal(at.Truncate(time.Minute)) {
		t.Errorf("LogKeyTime = %v, %v", lt, ok)
	}
	if dt, ok := DigestKeyTime(tests[1].got); !ok || !dt.Equal(at) {
		t.Errorf("DigestKeyTime = %v, %v", dt, ok)
	}
	if _, ok := LogKeyTime(tests[1].got); ok {
		t.Error("a digest key parsed as a log key")
	}
	if s := randomSuffix(); len(s) != 16 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Errorf("random suffix %q", s)
	}
}

// testRecord builds record i. Its event id has no long digit run, which would read as a card number
// to the shipper's last check.
func testRecord(i int, at time.Time) audit.Record {
	return audit.Record{
		EventVersion: audit.EventVersion, EventID: fmt.Sprintf("evt_%08xabcdefabcdefabcdefabcdef", i), EventTime: audit.FormatTime(at),
		EventSource: "invoices.vaultbill", EventName: "GetInvoice", EventType: audit.TypeAPICall, ReadOnly: true,
		UserIdentity: audit.UserIdentity{Type: "CognitoUser", PrincipalID: "alice", Role: "billing",
			SessionContext: audit.SessionContext{Attributes: audit.SessionAttributes{MFAAuthenticated: "true"}}},
		SourceIPAddress: "203.0.113.9", UserAgent: "curl/8", RequestID: fmt.Sprintf("req-%d", i),
		RequestParameters: map[string]string{"id": "in_0123456789abcdef"}, RecipientAccountID: loc.Account, AWSRegion: loc.Region,
	}
}

func streamEvent(recs []audit.Record, firstSeq int) events.DynamoDBEvent {
	var ev events.DynamoDBEvent
	for i, r := range recs {
		b, _ := json.Marshal(r)
		ev.Records = append(ev.Records, events.DynamoDBEventRecord{
			EventName: "INSERT", EventSource: "aws:dynamodb",
			Change: events.DynamoDBStreamRecord{
				SequenceNumber: fmt.Sprintf("%021d", firstSeq+i),
				NewImage:       map[string]events.DynamoDBAttributeValue{"record": events.NewStringAttribute(string(b))},
			},
		})
	}
	return ev
}

// eventIDsIn counts each eventID over every log file in the bucket.
func eventIDsIn(t testing.TB, m *memS3) map[string]int {
	t.Helper()
	out := map[string]int{}
	for k, vs := range m.objects {
		if _, ok := LogKeyTime(k); !ok {
			continue
		}
		body, err := Gunzip(vs[len(vs)-1].body)
		if err != nil {
			t.Fatal(err)
		}
		ids, _, _, err := ParseLogFile(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			out[id]++
		}
	}
	return out
}

// TestShipperRetryLosesNothing fails one PUT in the middle of a batch and replays what Lambda would
// replay: every record ends up in S3, copies only with their own eventID.
func TestShipperRetryLosesNothing(t *testing.T) {
	m := newMemS3()
	puts := 0
	m.failPut = func(string) bool { puts++; return puts == 2 }
	s := &Shipper{S3: m, Location: loc, MaxRecords: 1000}
	now := time.Now()
	var recs []audit.Record
	for i := range 2500 {
		recs = append(recs, testRecord(i, now))
	}
	ev := streamEvent(recs, 1)
	resp, err := s.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[1000].Change.SequenceNumber}}
	if diff := cmp.Diff(want, resp.BatchItemFailures); diff != "" {
		t.Fatalf("batch item failures (-want +got):\n%s", diff)
	}
	// Lambda retries from the reported record to the end of the batch.
	resp, err = s.Handle(context.Background(), events.DynamoDBEvent{Records: ev.Records[1000:]})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %v %v", resp, err)
	}
	ids := eventIDsIn(t, m)
	if len(ids) != len(recs) {
		t.Errorf("%d distinct records in S3, want %d", len(ids), len(recs))
	}
	if p, n := s.Stats(); p != 3 || n != 2500 {
		t.Errorf("stats: %d PUTs, %d records; want 3, 2500", p, n)
	}
}

func TestShipperStopsAtUndecodableRecord(t *testing.T) {
	m := newMemS3()
	s := &Shipper{S3: m, Location: loc}
	now := time.Now()
	ev := streamEvent([]audit.Record{testRecord(1, now), testRecord(2, now), testRecord(3, now)}, 1)
	ev.Records[0].EventName = "REMOVE" // TTL expiry: skipped
	ev.Records[2].Change.NewImage["record"] = events.NewStringAttribute("{not json")
	resp, err := s.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[2].Change.SequenceNumber {
		t.Fatalf("failures %v, want the undecodable record", resp.BatchItemFailures)
	}
	if diff := cmp.Diff(map[string]int{testRecord(2, now).EventID: 1}, eventIDsIn(t, m)); diff != "" {
		t.Errorf("shipped (-want +got):\n%s", diff)
	}
}

// buildTrail ships and digests hours of traffic on a simulated clock, recordsPerHour in each hour.
func buildTrail(tb testing.TB, m *memS3, k *memKMS, start time.Time, hours, filesPerHour, recordsPerFile int) {
	tb.Helper()
	clock := start
	s := &Shipper{S3: m, Location: loc, Clock: func() time.Time { return clock }}
	d := &Digester{S3: m, KMS: k, KeyID: "alias/signing", Location: loc}
	n := 0
	for h := range hours {
		for f := range filesPerHour {
			clock = start.Add(time.Duration(h)*time.Hour + time.Duration(f)*time.Minute)
			var recs []audit.Record
			for range recordsPerFile {
				recs = append(recs, testRecord(n, clock))
				n++
			}
			if _, err := s.Handle(context.Background(), streamEvent(recs, n)); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := d.Run(context.Background(), start.Add(time.Duration(h+1)*time.Hour+DefaultLag)); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestDigestChainValidates(t *testing.T) {
	m, k := newMemS3(), newMemKMS()
	start := time.Date(2026, 1, 1, 22, 0, 0, 0, time.UTC) // crosses midnight
	buildTrail(t, m, k, start, 4, 3, 10)
	v := &Validator{S3: m, KMS: k, KeyIDs: []string{"alias/signing"}, Location: loc}
	rep, err := v.Validate(context.Background(), start, start.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dv, d, lv, l := rep.Counts()
	if !rep.OK() || d != 4 || l != 12 || rep.Events != 120 {
		t.Errorf("report: digests %d/%d, logs %d/%d, events %d; results %+v", dv, d, lv, l, rep.Events, rep.Results)
	}
	// A digest run again for the same hour (a retried schedule) writes nothing new.
	dg := &Digester{S3: m, KMS: k, KeyID: "alias/signing", Location: loc}
	res, err := dg.Run(context.Background(), start.Add(4*time.Hour+DefaultLag))
	if err != nil || !res.Skipped {
		t.Errorf("rerun: %+v %v", res, err)
	}
	// An hour with no traffic still gets its digest, chained to the last.
	res, err = dg.Run(context.Background(), start.Add(5*time.Hour+DefaultLag))
	if err != nil || res.Skipped || res.LogFiles != 0 || res.Digest.PreviousDigestS3Object == nil {
		t.Errorf("empty hour: %+v %v", res, err)
	}
}

func BenchmarkShipper(b *testing.B) {
	m := newMemS3()
	s := &Shipper{S3: m, Location: loc}
	now := time.Now()
	const batch = 1000 // the event source's batch size
	var recs []audit.Record
	for i := range batch {
		recs = append(recs, testRecord(i, now))
	}
	ev := streamEvent(recs, 1)
	b.ResetTimer()
	for range b.N {
		if _, err := s.Handle(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
	puts, n := s.Stats()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(n)/float64(puts), "records/PUT")
	// S3 Standard PUT: $0.005 per 1,000 requests.
	b.ReportMetric(float64(puts)/float64(n)*1e6*0.005/1000, "$PUT/1M-events")
}

func BenchmarkValidate(b *testing.B) {
	m, k := newMemS3(), newMemKMS()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	buildTrail(b, m, k, start, 24, 6, 200)
	v := &Validator{S3: m, KMS: k, KeyIDs: []string{"alias/signing"}, Location: loc}
	b.ResetTimer()
	files := 0
	for range b.N {
		rep, err := v.Validate(context.Background(), start, start.Add(25*time.Hour))
		if err != nil || !rep.OK() {
			b.Fatalf("%v %+v", err, rep.Results[:1])
		}
		files += len(rep.Results)
	}
	b.ReportMetric(float64(files)/b.Elapsed().Seconds(), "files/s")
}

func TestValidatorReportsInvalidFormat(t *testing.T) {
	m, k := newMemS3(), newMemKMS()
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	buildTrail(t, m, k, start, 2, 1, 5)
	var newest string
	for key := range m.objects {
		if _, ok := DigestKeyTime(key); ok && key > newest {
			newest = key
		}
	}
	vs := m.objects[newest]
	vs[len(vs)-1].body = []byte("not gzip") // corrupted in place, as no S3 client can
	v := &Validator{S3: m, KMS: k, KeyIDs: []string{"alias/signing"}, Location: loc}
	rep, err := v.Validate(context.Background(), start, start.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Results[0].Key != newest || rep.Results[0].Reason != ReasonFormat {
		t.Errorf("results %+v, want %s invalid: %s", rep.Results, newest, ReasonFormat)
	}
}
