package backup_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/adapters/erasures"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

// margin is the simulated invocations' stop margin, the time their calls in flight have before the
// deadline. Work stops after the budget; the margin only bounds the calls in flight, and the emulator
// is slow where AWS is not (CreateBackup copies the table; a busy machine stretches a page to
// seconds), so it is far larger than in AWS.
const margin = 3 * time.Minute

// invocation is the context of one simulated invocation that stops working after budget: its
// deadline is budget+margin away.
func invocation(r *backup.Runner, budget time.Duration) (context.Context, context.CancelFunc) {
	r.StopMargin = margin
	return context.WithTimeout(context.Background(), budget+margin)
}

var scale = flag.Bool("scale", false, "run TestContinuation at full size: 20 000 items in invocations of 2 s (make scale)")

// continuationRun is the size of TestContinuation's run.
type continuationRun struct {
	counts map[string]int // items per table
	budget time.Duration  // each invocation's working time
	// partItems and pageItems cap a part and a scan page (0: the defaults).
	partItems, pageItems int
}

func (c continuationRun) items() int {
	return c.counts["billing"] + c.counts["vault"] + c.counts["audit"]
}

// continuationSize is the full run with -scale (the emulator spends about 50 s of CPU on it, which a
// 2-core machine shared with other builds stretches past two minutes), and a tenth of it otherwise,
// with pages, parts and invocations scaled down alike so that the same continuations and kills happen.
func continuationSize() continuationRun {
	if *scale {
		return continuationRun{counts: map[string]int{"billing": 12000, "vault": 4000, "audit": 4000}, budget: 2 * time.Second, partItems: 1500}
	}
	return continuationRun{counts: map[string]int{"billing": 1200, "vault": 400, "audit": 400}, budget: 250 * time.Millisecond, partItems: 60, pageItems: 100}
}

// TestContinuation backs up 20 000 items in invocations of 2 s each (with -scale; 2 000 items in
// invocations of 250 ms in make test), restores them in invocations alike, and finds every table
// item for item as seeded. Then the same with one backup invocation killed mid-segment, right after
// it wrote a part and before the checkpoint that lists it (the other segments cut off mid-page), and
// one restore invocation killed in the middle of its work: each dead invocation is retried with its
// payload, as Lambda retries an asynchronous invocation, and every table comes back with no item
// missing or doubled.
//
// The items are small (a key and a 120-byte body): the emulator's cost is per attribute value it
// serialises, and item shapes are TestRoundTrip's business. Parts hold 1 500 items (60), so a
// segment writes several parts.
func TestContinuation(t *testing.T) {
	run := continuationSize()
	e := newEnv(t)
	// The runs' own audit records would land in the audit table being backed up; TestRoundTrip
	// checks them. Here every table must hold just what was seeded.
	e.r.Audit = nil
	e.r.PartItems, e.r.PageItems = run.partItems, run.pageItems
	c := e.s.Env.Config
	tables := map[string]string{"billing": c.BillingTable, "vault": c.VaultTable, "audit": c.AuditTable}
	counts := run.counts
	start := time.Now()
	before := map[string]map[string]string{}
	for id, n := range counts {
		before[id] = e.seedPlain(t, id, tables[id], n)
	}
	t.Logf("seeded %d items in %s", run.items(), time.Since(start).Round(time.Millisecond))

	var clean string
	t.Run("clean", func(t *testing.T) {
		clean = e.backupInvocations(t, run, nil)
		e.checkBackup(t, clean, counts)
		// The backup holds exactly the seeded items: its all-items checksum is theirs.
		for id, lines := range before {
			var sum backup.Checksum
			for _, l := range lines {
				sum.Add([]byte(l))
			}
			if m := e.manifest(t, id, clean); m.Checksum != sum.String() {
				t.Errorf("%s: the backup's checksum is %s, the seeded items' %s", id, m.Checksum, sum)
			}
		}
		e.restoreInvocations(t, run, clean, "clean", before, nil)
	})
	if clean == "" {
		t.FailNow()
	}

	t.Run("killed", func(t *testing.T) {
		s3k := &partKiller{S3API: e.r.S3, after: 2}
		e.r.S3 = s3k
		killed := e.backupInvocations(t, run, s3k)
		e.r.S3 = s3k.S3API
		if s3k.killed == "" {
			t.Fatal("no backup invocation was killed")
		}
		e.checkBackup(t, killed, counts)
		for id := range tables {
			a, b := e.manifest(t, id, clean), e.manifest(t, id, killed)
			if a.Checksum != b.Checksum || a.ItemCount != b.ItemCount {
				t.Errorf("%s: the backup with a killed invocation holds %d items (%s), the clean one %d (%s)", id, b.ItemCount, b.Checksum, a.ItemCount, a.Checksum)
			}
		}
		// The part the killed invocation wrote is listed once: the retry wrote it again, same name.
		listed := 0
		for id := range tables {
			for _, p := range e.manifest(t, id, killed).Parts {
				if p.Key == s3k.killed {
					listed++
				}
			}
		}
		if listed != 1 {
			t.Errorf("the part the killed invocation wrote, %s, is listed %d times, want once", s3k.killed, listed)
		}

		dbk := &restoreKiller{restoreDB: e.r.DB.(restoreDB), table: e.s.Names.Table("billing-killed"), after: 2}
		e.r.DB = dbk
		defer func() { e.r.DB = dbk.restoreDB }()
		e.restoreInvocations(t, run, killed, "killed", before, dbk)
		if !dbk.fired {
			t.Error("no restore invocation was killed")
		}
	})
}

// killer is a fault that kills one simulated invocation: arm hands it the invocation's cancel.
type killer interface {
	arm(i int, cancel context.CancelFunc)
}

// backupInvocations runs a backup in invocations of budget each until it is over, as the backup
// function's self-invocation does, and returns its id. After every invocation each table's manifest
// is either absent or complete: it is written only once every segment is done. With k, invocation
// 1 is armed to die; the dead invocation is retried with the same job, as Lambda retries.
func (e *env) backupInvocations(t *testing.T, run continuationRun, k killer) string {
	t.Helper()
	job := backup.BackupJob{}
	start := time.Now()
	died := 0
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("backup did not finish in 100 invocations")
		}
		ctx, cancel := invocation(e.r, run.budget)
		if k != nil {
			k.arm(i, cancel)
		}
		res, next, err := e.r.BackupStep(ctx, job)
		cancel()
		job.ID = res.ID
		for table, n := range run.counts {
			if m := e.findManifest(t, table, res.ID); m != nil && m.ItemCount != int64(n) {
				t.Fatalf("invocation %d: manifest of %s lists %d items before the table was done, want %d", i, table, m.ItemCount, n)
			}
		}
		if err != nil {
			if k == nil || died > 0 {
				t.Fatalf("invocation %d: %v", i, err)
			}
			died++
			if pk, ok := k.(*partKiller); ok {
				e.checkKilled(t, pk.killed)
			}
			t.Logf("invocation %d died (retried with the same job): %v", i, firstLine(err))
			continue
		}
		if next == nil {
			if i < 3 {
				t.Errorf("backup of %d items finished in %d invocations of %s: the continuation was not exercised", run.items(), i+1, run.budget)
			}
			if k != nil && died != 1 {
				t.Errorf("%d invocations died, want 1", died)
			}
			el := time.Since(start)
			t.Logf("backup %s: %d invocations of %s, %d died, %s in all: %.0f items/s, %.0f per segment",
				res.ID, i+1, run.budget, died, el.Round(time.Millisecond), float64(run.items())/el.Seconds(),
				float64(run.items())/el.Seconds()/float64(orDefault(e.r.Segments, backup.DefaultSegments)))
			return res.ID
		}
		job = *next
	}
}

// checkKilled checks the state a killed backup invocation left: the part it wrote is in the bucket,
// and its table has no manifest.
func (e *env) checkKilled(t *testing.T, part string) {
	t.Helper()
	if e.listKeys(t, part) == 0 {
		t.Fatalf("the killed invocation's part %s is not in the bucket", part)
	}
	dir := part[:strings.LastIndex(part, "/")+1]
	if n := e.listKeys(t, dir+"manifest"); n != 0 {
		t.Fatalf("%s has a manifest after an invocation died in it", dir)
	}
}

// restoreInvocations restores each table of backup id into a new table in invocations of budget
// each and compares the restored table with the original, item for item. With k, the second
// invocation is armed to die; the dead invocation is retried with its payload.
func (e *env) restoreInvocations(t *testing.T, run continuationRun, id, suffix string, before map[string]map[string]string, k killer) {
	t.Helper()
	for table, want := range before {
		start := time.Now()
		req := backup.RestoreRequest{Source: table, From: id, Table: e.s.Names.Table(table + "-" + suffix)}
		n, died := 0, 0
		for i := 0; ; i++ {
			if i > 100 {
				t.Fatalf("restore of %s did not finish in 100 invocations", table)
			}
			ctx, cancel := invocation(e.r, run.budget)
			if k != nil {
				k.arm(i, cancel)
			}
			res, err := e.r.Restore(ctx, req)
			cancel()
			n++
			if err != nil {
				if k == nil || died > 0 || errors.Is(err, backup.ErrMismatch) {
					t.Fatalf("restore %s invocation %d: %v", table, i, err)
				}
				died++
				if !e.tableExists(t, req.Table) {
					t.Fatalf("restore %s: the killed invocation dropped %s", table, req.Table)
				}
				phase := "create" // the first invocation has no checkpoint yet
				if req.Checkpoint != nil {
					phase = fmt.Sprint(req.Checkpoint.Phase)
				}
				t.Logf("restore %s invocation %d died in its %s phase (retried with the same payload): %v", table, i, phase, firstLine(err))
				continue // req still holds the payload the dead invocation was given
			}
			if res.Next == nil {
				if res.Items != int64(len(want)) {
					t.Errorf("restore %s: %d items, want %d", table, res.Items, len(want))
				}
				break
			}
			req.Checkpoint = res.Next
		}
		if n < 2 && table == "billing" {
			t.Errorf("restore of %s (%d items) finished in one invocation of %s: the continuation was not exercised", table, len(want), run.budget)
		}
		el := time.Since(start)
		sameItems(t, table, want, e.snapshot(t, req.Table))
		t.Logf("restore %s: %d items in %d invocations (%d died), %s", table, len(want), n, died, el.Round(time.Millisecond))
	}
}

// sameItems reports the items missing from got, extra in it, or different.
func sameItems(t *testing.T, table string, want, got map[string]string) {
	t.Helper()
	var missing, differ, extra int
	for k, v := range want {
		switch g, ok := got[k]; {
		case !ok:
			missing++
		case g != v:
			differ++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra++
		}
	}
	if missing+differ+extra > 0 || len(got) != len(want) {
		t.Errorf("restored %s holds %d items, want %d: %d missing, %d different, %d extra", table, len(got), len(want), missing, differ, extra)
	}
}

// checkBackup checks a finished backup: its counts, and that every part in the bucket is listed in
// the manifest exactly once (a part written again after a kill replaced itself).
func (e *env) checkBackup(t *testing.T, id string, counts map[string]int) {
	t.Helper()
	for table, want := range counts {
		m := e.manifest(t, table, id)
		if m.ItemCount != int64(want) {
			t.Errorf("%s: manifest counts %d items, want %d", table, m.ItemCount, want)
		}
		listed := map[string]bool{}
		var n int64
		for _, p := range m.Parts {
			if listed[p.Key] {
				t.Errorf("%s: part %s listed twice", table, p.Key)
			}
			listed[p.Key] = true
			n += p.Items
		}
		if n != int64(want) {
			t.Errorf("%s: parts hold %d items, want %d", table, n, want)
		}
		prefix := "backups/" + table + "/" + id + "/part-"
		if got := e.listKeys(t, prefix); got != len(listed) {
			t.Errorf("%s: %d parts in the bucket, the manifest lists %d", table, got, len(listed))
		}
	}
}

// listKeys counts the objects under prefix in the backup bucket.
func (e *env) listKeys(t *testing.T, prefix string) int {
	t.Helper()
	n := 0
	p := s3.NewListObjectsV2Paginator(e.s3, &s3.ListObjectsV2Input{Bucket: aws.String(e.r.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Contents)
	}
	return n
}

// findManifest is the complete backup id of table, or nil while it has none.
func (e *env) findManifest(t *testing.T, table, id string) *backup.Manifest {
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
	return nil
}

// seedPlain writes n small items into table (defined as id), a key and a 120-byte body each, and
// returns them as snapshot does: canonical lines by key.
func (e *env) seedPlain(t *testing.T, id, table string, n int) map[string]string {
	t.Helper()
	items := make([]map[string]types.AttributeValue, n)
	lines := make(map[string]string, n)
	for i := range items {
		body := s(fmt.Sprintf("%s item %08d %s", id, i, strings.Repeat("x", 100)))
		if id == "audit" {
			items[i] = map[string]types.AttributeValue{"eventID": s(fmt.Sprintf("%08d-0000-4000-8000-%012d", i, i)), "body": body}
		} else {
			items[i] = map[string]types.AttributeValue{"pk": s(fmt.Sprintf("ITEM#%08d", i)), "sk": s(fmt.Sprintf("V#%d", i%3)), "body": body}
		}
		line, err := backup.EncodeItem(items[i])
		if err != nil {
			t.Fatal(err)
		}
		lines[keyOf(items[i])] = string(line)
	}
	e.batchPut(t, table, items)
	return lines
}

// partKiller kills a backup invocation right after it wrote a part: armed from invocation 1 on, it
// lets the after-th part upload through, then cancels the invocation and fails every later upload
// in it, so the checkpoint that would list that part is never written.
type partKiller struct {
	backup.S3API
	after int

	mu     sync.Mutex
	cancel context.CancelFunc
	parts  int
	killed string // the last part the dead invocation wrote
}

func (k *partKiller) arm(i int, cancel context.CancelFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cancel = nil // invocation 0 and the retry of the dead one run unharmed
	if i >= 1 && k.killed == "" {
		k.cancel = cancel
	}
}

func (k *partKiller) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	k.mu.Lock()
	dead := k.cancel != nil && k.killed != ""
	k.mu.Unlock()
	if dead {
		return nil, errors.New("injected: the invocation is dead")
	}
	out, err := k.S3API.PutObject(ctx, in, opts...)
	if err != nil || !strings.Contains(aws.ToString(in.Key), "/part-") {
		return out, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cancel != nil && k.killed == "" {
		if k.parts++; k.parts == k.after {
			k.killed = aws.ToString(in.Key)
			k.cancel()
		}
	}
	return out, err
}

// restoreKiller kills a restore invocation into table in the middle of its work: armed from
// invocation 1 on, it lets after BatchWriteItem or Scan calls on the table through, then cancels the
// invocation and fails every later call in it. In the load phase that is in the middle of the parts
// in flight (3 batches each, 60 with -scale; cp.Loaded counts only whole parts); if the first
// invocation loaded every part, it is in the verifying scan, between a page and the checkpoint that
// would count it.
type restoreKiller struct {
	restoreDB
	table string
	after int

	mu     sync.Mutex
	cancel context.CancelFunc
	calls  int
	fired  bool
}

func (k *restoreKiller) arm(i int, cancel context.CancelFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cancel = nil // invocation 0 and the retry of the dead one run unharmed
	if i >= 1 && !k.fired {
		k.cancel = cancel
	}
}

func (k *restoreKiller) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if _, ok := in.RequestItems[k.table]; ok {
		if err := k.call(); err != nil {
			return nil, err
		}
	}
	return k.restoreDB.BatchWriteItem(ctx, in, opts...)
}

func (k *restoreKiller) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if aws.ToString(in.TableName) == k.table {
		if err := k.call(); err != nil {
			return nil, err
		}
	}
	return k.restoreDB.Scan(ctx, in, opts...)
}

// call counts a write or scan of the table in an armed invocation, and kills the invocation when
// it is one too many.
func (k *restoreKiller) call() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cancel == nil {
		return nil
	}
	if k.fired {
		return errors.New("injected: the invocation is dead")
	}
	if k.calls++; k.calls > k.after {
		k.fired = true
		k.cancel()
		return errors.New("injected: the invocation died in the middle of a part or a page")
	}
	return nil
}

// restoreDB is the DynamoDB client a restore uses: the backup calls and the erasure ledger's.
type restoreDB interface {
	backup.DynamoDBAPI
	erasures.DB
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func orDefault(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

// TestRestoreTestContinues runs the restore test in short invocations until it passes, and shows a
// forged continuation (a table marked passed without the MAC only a real pass carries) fails it.
func TestRestoreTestContinues(t *testing.T) {
	e := newEnv(t)
	e.r.Segments = 2
	e.r.PartItems = 200
	e.seed(t, 600)
	if _, err := e.r.Backup(context.Background()); err != nil {
		t.Fatal(err)
	}
	run := func(job backup.RestoreTestJob) (backup.RestoreTestResult, int, error) {
		for i := 1; ; i++ {
			if i > 200 {
				t.Fatal("restore test did not finish in 200 invocations")
			}
			ctx, cancel := invocation(e.r, 300*time.Millisecond)
			res, next, err := e.r.RestoreTestStep(ctx, job)
			cancel()
			if next == nil {
				return res, i, err
			}
			job = *next
		}
	}
	res, n, err := run(backup.RestoreTestJob{})
	if err != nil {
		t.Fatalf("restore test: %v", err)
	}
	if n < 2 {
		t.Errorf("restore test finished in %d invocation: the continuation was not exercised", n)
	}
	for _, tr := range res.Tables {
		if tr.Items == 0 || tr.Err != nil {
			t.Errorf("%s: %+v", tr.Table, tr)
		}
	}
	if left := e.scratchTables(t); len(left) != 0 {
		t.Errorf("scratch tables left behind: %v", left)
	}

	// A payload that claims every table passed, with no MAC: the test fails, it does not pass.
	forged := backup.RestoreTestJob{}
	for _, tr := range res.Tables {
		forged.Tables = append(forged.Tables, backup.TableTestJob{Table: tr.Table, BackupID: tr.BackupID, Finished: true, Items: tr.Items})
	}
	res, _, err = run(forged)
	if !errors.Is(err, backup.ErrTampered) {
		t.Errorf("forged continuation: %v, want %v", err, backup.ErrTampered)
	}
	for _, tr := range res.Tables {
		if tr.Err == nil {
			t.Errorf("%s passed on a forged continuation", tr.Table)
		}
	}
}
