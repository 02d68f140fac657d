package audittrail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
	trailwiring "github.com/vaultbill/vaultbill/shared/wiring/audittrail"
)

// resign rewrites the digest at key through mutate and signs it with the trail's own key, as an
// attacker holding the signing permission could: only what the validator checks beyond the
// signature can catch it.
func (tr *trail) resign(t *testing.T, key string, mutate func(*audittrail.Digest)) {
	t.Helper()
	body, _ := tr.get(t, key)
	var d audittrail.Digest
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	mutate(&d)
	forged, _ := json.Marshal(d)
	sig, err := audittrail.SignDigest(context.Background(), kms.NewFromConfig(tr.s.Env.AWS), tr.s.Env.Config.AuditSigningKeyID, &d, forged)
	if err != nil {
		t.Fatal(err)
	}
	tr.put(t, key, forged, map[string]string{audittrail.MetaSignature: sig, audittrail.MetaSignatureAlgorithm: audittrail.SignatureAlgorithm})
}

func wantProblem(t *testing.T, rep audittrail.Report, substr string) {
	t.Helper()
	if rep.OK() {
		t.Fatalf("range reported valid: %+v", rep)
	}
	for _, p := range rep.Problems {
		if strings.Contains(p, substr) {
			return
		}
	}
	t.Errorf("problems %q, want one containing %q", rep.Problems, substr)
}

func TestValidatorReportsRangeWithoutDigest(t *testing.T) {
	tr := newTrail(t)
	tr.set(tr.now().Add(10 * time.Minute))
	tr.traffic(t, 3)
	tr.ship(t)
	wantProblem(t, tr.validate(t), "no digest file covers")
}

func TestValidatorReportsGapBetweenDigests(t *testing.T) {
	tr, digests, _ := tampered(t)
	tr.resign(t, digests[2], func(d *audittrail.Digest) {
		start, _ := time.Parse(time.RFC3339, d.DigestStartTime)
		d.DigestStartTime = start.Add(20 * time.Minute).Format(time.RFC3339)
	})
	rep := tr.validate(t)
	wantInvalid(t, rep, audittrail.KindDigest, digests[1], audittrail.ReasonChainBroken+": gap")
}

func TestValidatorReportsStoppedDigests(t *testing.T) {
	tr, _, _ := tampered(t)
	tr.set(tr.now().Add(2 * time.Hour)) // two schedules missed
	wantProblem(t, tr.validate(t), "digests have stopped")
}

func TestValidatorReportsChainRestartWithoutReason(t *testing.T) {
	tr, digests, _ := tampered(t)
	tr.resign(t, digests[2], func(d *audittrail.Digest) {
		d.PreviousDigestS3Bucket, d.PreviousDigestS3Object, d.PreviousDigestHashValue = nil, nil, nil
		d.PreviousDigestHashAlgorithm, d.PreviousDigestSignature = nil, nil
	})
	wantInvalid(t, tr.validate(t), audittrail.KindDigest, digests[2], audittrail.ReasonChainRestart)
}

// TestDigesterNeverStartsAChainSilently: with the previous digest gone, the digester fails (and the
// schedule alerts) instead of starting over; an operator's signed reason starts the new chain, which
// then validates while the deletion stays reported.
func TestDigesterNeverStartsAChainSilently(t *testing.T) {
	tr := newTrail(t)
	digests := tr.hours(t, 1)
	tr.del(t, digests[0])
	tr.set(tr.now().Add(time.Hour))
	if _, err := tr.s.Audit.DigestNow(context.Background()); !errors.Is(err, audittrail.ErrNoPredecessor) {
		t.Fatalf("digest without a predecessor: %v, want ErrNoPredecessor", err)
	}
	tr.s.Audit.Digest.Digester.NewChainReason = "digest deleted by mistake; incident INC-42"
	res, err := tr.s.Audit.DigestNow(context.Background())
	if err != nil || res.Digest.ChainStartReason != "digest deleted by mistake; incident INC-42" {
		t.Fatalf("new chain: %+v %v", res, err)
	}
	rep := tr.validate(t)
	wantInvalid(t, rep, audittrail.KindDigest, digests[0], audittrail.ReasonDeleteMarker)
	for _, r := range rep.Results {
		if r.Key == res.Key && !r.Valid {
			t.Errorf("the new chain's first digest: %s", r.Reason)
		}
	}
}

func TestValidatorReportsDeleteMarker(t *testing.T) {
	tr, _, _ := tampered(t)
	before := map[string]bool{}
	for _, k := range tr.logKeys(t) {
		before[k] = true
	}
	tr.set(tr.now().Add(time.Minute))
	tr.traffic(t, 3)
	tr.ship(t)
	var fresh string // delivered after the newest digest: no digest lists it yet
	for _, k := range tr.logKeys(t) {
		if !before[k] {
			fresh = k
		}
	}
	tr.del(t, fresh)
	tr.set(tr.now().Add(2 * time.Minute))
	wantInvalid(t, tr.validate(t), audittrail.KindLog, fresh, audittrail.ReasonDeleteMarker)
}

func TestValidatorReportsReplacedVersion(t *testing.T) {
	tr, _, logs := tampered(t)
	body, meta := tr.get(t, logs[2])
	tr.put(t, logs[2], body, meta) // the same content again: only the version differs
	wantInvalid(t, tr.validate(t), audittrail.KindLog, logs[2], audittrail.ReasonNotFirstWrite)
}

// TestDigestCatchesFileReplacedBeforeIt replaces a log file before its first digest: the digest
// lists the shipper's hash and version, not what it finds, and the schedule alerts.
func TestDigestCatchesFileReplacedBeforeIt(t *testing.T) {
	tr := newTrail(t)
	tr.hours(t, 1)
	tr.set(tr.now().Add(10 * time.Minute))
	tr.traffic(t, 3)
	tr.ship(t)
	var victim string
	for _, k := range tr.logKeys(t) {
		if lt, _ := audittrail.LogKeyTime(k); !lt.Before(tr.now().Truncate(time.Minute)) {
			victim = k
		}
	}
	body, meta := tr.get(t, victim)
	tr.put(t, victim, bytes.Replace(body, []byte(`"eventName":"`), []byte(`"eventName":"x`), 1), meta)
	tr.set(tr.now().Add(time.Hour))
	res, err := tr.s.Audit.DigestNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tampered) != 1 || !strings.HasPrefix(res.Tampered[0], victim) {
		t.Errorf("digest reported tampered %q, want %s", res.Tampered, victim)
	}
	wantInvalid(t, tr.validate(t), audittrail.KindLog, victim, audittrail.ReasonHashMismatch)
}

// TestValidateCommandFailsOnProblems: the validator's range findings make the report invalid.
func TestValidateReportOKNeedsCoverage(t *testing.T) {
	tr := newTrail(t)
	v, err := trailwiring.Validator(tr.s.Env)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := v.Validate(context.Background(), tr.now().Add(-time.Hour), tr.now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Results) != 0 {
		t.Errorf("an empty trail validated: %+v", rep)
	}
}

// TestDigestS3CallsDoNotGrowWithFiles pins the digester's S3 round trips: it lists the period's files
// with their versions and takes their hashes from the shipper's ledger (one BatchGetItem per 100
// files), so it reads no log file, however many there are.
func TestDigestS3CallsDoNotGrowWithFiles(t *testing.T) {
	tr := newTrail(t)
	tr.hours(t, 1)
	base := tr.now()
	const files = 8
	for i := range files {
		tr.set(base.Add(time.Duration(i+1) * 5 * time.Minute))
		tr.traffic(t, 2)
		tr.ship(t)
	}
	cfg, calls := stacktest.CountCalls(tr.s.Env.AWS)
	d := tr.s.Audit.Digest.Digester
	d.S3 = s3client.New(cfg)
	d.Ledger = audittrail.TableLedger{DB: dynamodb.NewFromConfig(cfg), Table: tr.s.Env.Config.AuditTable}
	tr.set(base.Add(time.Hour))
	res, err := tr.s.Audit.DigestNow(context.Background())
	if err != nil || res.LogFiles != files {
		t.Fatalf("digest: %+v %v, want %d log files", res, err, files)
	}
	s3Calls := calls.TakeService("S3")
	total := 0
	for _, n := range s3Calls {
		total += n
	}
	t.Logf("S3 calls for a digest of %d log files: %d %v", files, total, s3Calls)
	if s3Calls["GetObject"] != 1 || s3Calls["PutObject"] != 1 || total > 8 {
		t.Errorf("S3 calls %v: want one GetObject (the previous digest), one PutObject, at most 8 in all", s3Calls)
	}
}

// TestShipperSurvivesALostLedgerAnswer: the ledger write reaches DynamoDB but its answer is lost (a
// connection reset), so the SDK retries it into the item the first attempt wrote. The batch still
// ships once, in one file the digest lists; a different record under the same key stays refused.
func TestShipperSurvivesALostLedgerAnswer(t *testing.T) {
	tr := newTrail(t)
	cfg, faults := stacktest.InjectFaults(tr.s.Env.AWS, 1)
	ledger := audittrail.TableLedger{DB: dynamodb.NewFromConfig(cfg), Table: tr.s.Env.Config.AuditTable}
	tr.s.Audit.Shipper.Ledger = ledger
	faults.Set(stacktest.FaultRule{Service: "DynamoDB", Operation: "PutItem", P: 1, Faults: []stacktest.Fault{stacktest.Drop}, Limit: 1})
	tr.set(tr.now().Add(10 * time.Minute))
	tr.traffic(t, 3)
	tr.ship(t)
	if n := faults.Total(); n != 1 {
		t.Fatalf("%d faults injected, want the one lost answer", n)
	}
	keys := tr.logKeys(t)
	if len(keys) != 1 {
		t.Fatalf("log files %q, want the batch in one", keys)
	}
	tr.set(tr.now().Add(time.Hour))
	if res, err := tr.s.Audit.DigestNow(context.Background()); err != nil || res.LogFiles != 1 {
		t.Fatalf("digest: %+v %v, want it to list the one log file", res, err)
	}
	if rep := tr.validate(t); !rep.OK() {
		t.Errorf("trail invalid: %+v %q", rep.Results, rep.Problems)
	}

	recs, err := ledger.Lookup(context.Background(), keys, false)
	if err != nil {
		t.Fatal(err)
	}
	other := recs[keys[0]]
	other.Hash = audittrail.HashHex([]byte("another file"))
	if err := ledger.Record(context.Background(), other); err == nil {
		t.Error("a second, different record for a log file replaced or joined the first")
	}
}

// TestTrailSurvivesLostS3Answers: a log file's and a digest's PUT reach S3 but their answers are
// lost, so the SDK puts each again: the keys then have two versions of the same bytes, which are one
// write, not a replacement; the trail validates. A second version with other bytes is still reported.
func TestTrailSurvivesLostS3Answers(t *testing.T) {
	tr := newTrail(t)
	cfg, faults := stacktest.InjectFaults(tr.s.Env.AWS, 1)
	tr.s.Audit.Shipper.S3 = s3client.New(cfg)
	tr.s.Audit.Digest.Digester.S3 = s3client.New(cfg)
	loseOne := stacktest.FaultRule{Service: "S3", Operation: "PutObject", P: 1, Faults: []stacktest.Fault{stacktest.Drop}, Limit: 1}
	var digests []string
	for h := range 2 {
		faults.Set(loseOne)
		tr.set(tr.now().Add(10 * time.Minute))
		tr.traffic(t, 3)
		tr.ship(t)
		faults.Set(loseOne)
		tr.set(tr.now().Add(time.Hour))
		res, err := tr.s.Audit.DigestNow(context.Background())
		if err != nil || res.LogFiles != 1 {
			t.Fatalf("digest %d: %+v %v, want it to list the hour's one log file", h, res, err)
		}
		digests = append(digests, res.Key)
	}
	if n := faults.Total(); n != 4 {
		t.Fatalf("faults: %s, want four lost answers", faults.Summary())
	}
	if rep := tr.validate(t); !rep.OK() {
		t.Fatalf("trail invalid: %+v %q", rep.Results, rep.Problems)
	}

	body, meta := tr.get(t, digests[0])
	tr.put(t, digests[0], append(body, ' '), meta)
	rep := tr.validate(t)
	for _, r := range rep.Results {
		if r.Key == digests[0] && r.Valid {
			t.Errorf("digest %s with a second version of other bytes is valid", r.Key)
		}
	}
	if rep.OK() {
		t.Error("a replaced digest went unnoticed")
	}
}
