package audittrail

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// Kinds of validated files, as `aws cloudtrail validate-logs` prints them.
const (
	KindDigest = "Digest file"
	KindLog    = "Log file"
)

// Reasons a file is invalid, in CloudTrail's words where CloudTrail has them.
const (
	ReasonNotFound        = "not found"
	ReasonHashMismatch    = "hash value doesn't match"
	ReasonSignature       = "signature verification failed"
	ReasonMoved           = "has been moved from its original location"
	ReasonFormat          = "invalid format"
	ReasonUnknownKey      = "public key not found for fingerprint"
	ReasonChainBroken     = "chain broken"
	ReasonNotInAnyDigest  = "not in any digest file"
	ReasonDigestUnchecked = "its digest file is invalid"
	// Beyond CloudTrail: S3 keeps every version of the trail's files (Object Lock), so a replaced or
	// deleted file stays visible, and a chain may only start over with a signed reason.
	ReasonReplaced      = "replaced: the current version is not the one first written"
	ReasonDeleteMarker  = "deleted (delete marker)"
	ReasonChainRestart  = "chain restarts without a signed reason"
	ReasonNotFirstWrite = "replaced: the current version is not the one the digest lists"
)

// DigestPeriod is how often the digest schedule runs.
const DigestPeriod = time.Hour

// Result is the verdict on one file.
type Result struct {
	Kind   string
	Bucket string
	Key    string
	Valid  bool
	// Reason says why the file is invalid, with detail where it helps.
	Reason string
}

// Report is the outcome of one validation.
type Report struct {
	Start, End time.Time
	Results    []Result
	// Problems are findings about the range as a whole: no digest covers it, or digests stopped.
	Problems []string
	// Events counts the distinct eventIDs in the valid log files; Duplicates the copies beyond them
	// (retried deliveries, which readers de-duplicate).
	Events, Duplicates int
}

// Counts returns the valid and total digest and log files.
func (r Report) Counts() (digestsValid, digests, logsValid, logs int) {
	for _, res := range r.Results {
		switch res.Kind {
		case KindDigest:
			digests++
			if res.Valid {
				digestsValid++
			}
		case KindLog:
			logs++
			if res.Valid {
				logsValid++
			}
		}
	}
	return
}

// OK reports whether every file validated and the range is covered.
func (r Report) OK() bool {
	dv, d, lv, l := r.Counts()
	return dv == d && lv == l && len(r.Problems) == 0
}

// Validator checks a trail the way `aws cloudtrail validate-logs` checks CloudTrail's: it walks the
// digest chain back from the newest digest, verifies each signature with the signing key's public
// key, checks each link, and re-hashes every log file the digests name.
type Validator struct {
	S3  ReadAPI
	KMS PublicKeyAPI
	// KeyIDs are the signing keys whose public keys are trusted (current and retired).
	KeyIDs []string
	Location
	// Period and Lag are the digest schedule's (default DigestPeriod and DefaultLag): a range whose
	// newest digest ends more than Period+Lag (and two minutes' jitter) before its end is reported, as
	// digests have stopped.
	Period, Lag time.Duration
	// Progress, if set, is told how far each phase ("digests", "log files") has got.
	Progress func(phase string, done, total int)
}

type digestState struct {
	key    string
	result *Result
	d      *Digest
	hash   string // hex SHA-256 of the uncompressed content
	sig    string
	signed bool // signature verified
}

// Validate checks the log files delivered between start and end and the digests that cover them.
func (v *Validator) Validate(ctx context.Context, start, end time.Time) (Report, error) {
	rep := Report{Start: start, End: end}
	keys, err := v.publicKeys(ctx)
	if err != nil {
		return rep, err
	}
	digests, err := v.walkChain(ctx, keys, start, end)
	if err != nil {
		return rep, err
	}
	rep.Problems = v.coverage(digests, start, end)
	for _, ds := range digests {
		rep.Results = append(rep.Results, *ds.result)
	}
	logResults, ids, err := v.checkLogFiles(ctx, digests, start, end)
	if err != nil {
		return rep, err
	}
	rep.Results = append(rep.Results, logResults...)
	for _, n := range ids {
		rep.Events++
		rep.Duplicates += n - 1
	}
	return rep, nil
}

func (v *Validator) publicKeys(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	out := map[string]*rsa.PublicKey{}
	for _, id := range v.KeyIDs {
		resp, err := v.KMS.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("get public key of %s: %w", id, err)
		}
		pub, err := ParsePublicKey(resp.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("public key of %s: %w", id, err)
		}
		out[Fingerprint(pub)] = pub
	}
	return out, nil
}

func (v *Validator) progress(phase string, done, total int) {
	if v.Progress != nil {
		v.Progress(phase, done, total)
	}
}

// walkChain lists the digests ending in [start, end + one period] and follows the chain from the
// newest one back. The listing is a fallback: when a link cannot be followed (a digest deleted or
// unreadable) the walk resumes at the next older digest found, and a digest the chain never reaches
// is reported as breaking it.
func (v *Validator) walkChain(ctx context.Context, keys map[string]*rsa.PublicKey, start, end time.Time) ([]*digestState, error) {
	versions, err := listVersionsByDay(ctx, v.S3, v.Bucket, v.DigestDayPrefix, start, end)
	if err != nil {
		return nil, err
	}
	var listed, tampered []string
	for k, kv := range versions {
		t, ok := DigestKeyTime(k)
		if !ok || t.Before(start) || t.After(end) {
			continue
		}
		if kv.current {
			listed = append(listed, k)
		}
		if kv.tampered() != "" {
			tampered = append(tampered, k)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(listed)))
	sort.Strings(tampered)
	visited := map[string]bool{}
	var out []*digestState
	var newer *digestState // the digest whose previous-digest fields point at the one being checked
	next := 0              // next listed digest to fall back to
	cur := ""
	if len(listed) > 0 {
		cur = listed[0]
	}
	for cur != "" && !visited[cur] { // a forged link could point back into the chain
		v.progress("digests", len(out), len(listed))
		visited[cur] = true
		ds := v.checkDigest(ctx, keys, cur)
		if newer != nil && newer.d != nil {
			linkCheck(newer, ds)
		}
		if ds.d != nil && ds.d.PreviousDigestS3Object == nil && ds.d.ChainStartReason == "" && ds.result.Valid {
			// The first digest of a chain, with no signed reason to start one.
			ds.result.Valid = false
			ds.result.Reason = ReasonChainRestart
		}
		out = append(out, ds)
		// Stop once the chain covers start.
		if ds.d != nil && ds.d.DigestStartTime <= start.UTC().Format(time.RFC3339) {
			break
		}
		newer = ds
		switch {
		case ds.d != nil && ds.d.PreviousDigestS3Object != nil:
			cur = *ds.d.PreviousDigestS3Object
			if t, ok := DigestKeyTime(cur); ok && t.Before(start) {
				cur = "" // the previous digest ends before the requested range
			}
		default:
			// The first digest of a chain, or unreadable: resume at the next older listed digest,
			// with no link to check.
			newer = nil
			cur = ""
			for ; next < len(listed); next++ {
				if !visited[listed[next]] && listed[next] < ds.key {
					cur = listed[next]
					break
				}
			}
		}
	}
	for _, k := range listed {
		if !visited[k] && (len(out) == 0 || k < out[0].key) {
			t, _ := DigestKeyTime(k)
			if len(out) > 0 && out[len(out)-1].d != nil && t.Format(time.RFC3339) < out[len(out)-1].d.DigestStartTime {
				continue // older than the covered range
			}
			ds := v.checkDigest(ctx, keys, k)
			if ds.result.Valid {
				ds.result.Valid = false
				ds.result.Reason = ReasonChainBroken + ": no later digest file refers to it"
			}
			out = append(out, ds)
		}
	}
	// A replaced or deleted digest: the current one may check out, the history does not.
	byKey := map[string]*digestState{}
	for _, ds := range out {
		byKey[ds.key] = ds
	}
	for _, k := range tampered {
		ds := byKey[k]
		if ds == nil {
			ds = &digestState{key: k, result: &Result{Kind: KindDigest, Bucket: v.Bucket, Key: k}}
			out = append(out, ds)
		}
		if ds.result.Valid || ds.result.Reason == "" {
			ds.result.Valid = false
			ds.result.Reason = versions[k].tampered()
		}
	}
	v.progress("digests", len(out), len(out))
	return out, nil
}

// coverage reports what the digests fail to prove about the range as a whole.
func (v *Validator) coverage(digests []*digestState, start, end time.Time) []string {
	var newest time.Time
	for _, ds := range digests {
		if ds.d == nil {
			continue
		}
		if t, err := time.Parse(time.RFC3339, ds.d.DigestEndTime); err == nil && t.After(newest) {
			newest = t
		}
	}
	if newest.IsZero() {
		return []string{fmt.Sprintf("no digest file covers %s to %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))}
	}
	period, lag := v.Period, v.Lag
	if period == 0 {
		period = DigestPeriod
	}
	if lag == 0 {
		lag = DefaultLag
	}
	// Allowance for the minute a period's end is truncated to and the schedule's own jitter.
	const jitter = 2 * time.Minute
	if end.Sub(newest) > period+lag+jitter {
		return []string{fmt.Sprintf("the newest digest file ends at %s, more than %s before %s: digests have stopped, and nothing after it is proven",
			newest.Format(time.RFC3339), period+lag, end.UTC().Format(time.RFC3339))}
	}
	return nil
}

// checkDigest reads one digest and verifies its location and signature.
func (v *Validator) checkDigest(ctx context.Context, keys map[string]*rsa.PublicKey, key string) *digestState {
	ds := &digestState{key: key, result: &Result{Kind: KindDigest, Bucket: v.Bucket, Key: key}}
	fail := func(reason string) *digestState { ds.result.Reason = reason; return ds }
	obj, err := getObject(ctx, v.S3, v.Bucket, key)
	if errors.Is(err, errNotFound) {
		return fail(ReasonNotFound)
	} else if err != nil {
		return fail(err.Error())
	}
	body, err := Gunzip(obj.body)
	if err != nil {
		return fail(ReasonFormat)
	}
	var d Digest
	if err := json.Unmarshal(body, &d); err != nil || d.DigestEndTime == "" {
		return fail(ReasonFormat)
	}
	ds.d, ds.hash, ds.sig = &d, HashHex(body), obj.meta[MetaSignature]
	if d.DigestS3Bucket != v.Bucket || d.DigestS3Object != key {
		return fail(ReasonMoved)
	}
	pub, ok := keys[d.DigestPublicKeyFingerprint]
	if !ok {
		return fail(ReasonUnknownKey + " " + d.DigestPublicKeyFingerprint)
	}
	sig, err := hex.DecodeString(ds.sig)
	if err != nil || ds.sig == "" {
		return fail(ReasonSignature)
	}
	sum := sha256.Sum256([]byte(SigningString(&d, ds.hash)))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
		return fail(ReasonSignature)
	}
	ds.signed = true
	ds.result.Valid = true
	return ds
}

// linkCheck verifies that newer's previous-digest fields describe prev exactly, and that the two
// periods meet with no gap.
func linkCheck(newer, prev *digestState) {
	if prev.result.Reason == ReasonNotFound {
		return
	}
	d := newer.d
	reason := ""
	switch {
	case d.PreviousDigestHashValue == nil || prev.d == nil:
	case *d.PreviousDigestHashValue != prev.hash:
		reason = ReasonHashMismatch
	case d.PreviousDigestSignature == nil || *d.PreviousDigestSignature != prev.sig:
		reason = ReasonChainBroken + ": signature differs from the one chained into " + newer.key
	case d.DigestStartTime != prev.d.DigestEndTime:
		reason = fmt.Sprintf("%s: gap between %s and %s", ReasonChainBroken, prev.d.DigestEndTime, d.DigestStartTime)
	}
	if reason != "" && prev.result.Valid {
		prev.result.Valid = false
		prev.result.Reason = reason
	}
}

// checkLogFiles re-hashes every log file the digests name within [start, end), then looks for log
// files in the covered period that no digest names: added after the fact, or moved.
func (v *Validator) checkLogFiles(ctx context.Context, digests []*digestState, start, end time.Time) ([]Result, map[string]int, error) {
	type ref struct {
		f      LogFileHash
		digest *digestState
	}
	var refs []ref
	referenced := map[string]bool{}
	var coveredFrom, coveredTo string
	for _, ds := range digests {
		if ds.d == nil {
			continue
		}
		if coveredFrom == "" || ds.d.DigestStartTime < coveredFrom {
			coveredFrom = ds.d.DigestStartTime
		}
		if ds.d.DigestEndTime > coveredTo {
			coveredTo = ds.d.DigestEndTime
		}
		for _, f := range ds.d.LogFiles {
			t, ok := LogKeyTime(f.S3Object)
			if ok && (t.Before(start.Truncate(time.Minute)) || !t.Before(end)) {
				continue
			}
			refs = append(refs, ref{f, ds})
			referenced[f.S3Bucket+"/"+f.S3Object] = true
		}
	}
	ids := map[string]int{}
	var results []Result
	missing := map[string]int{} // hash of a referenced file not found → its result index
	for i, r := range refs {
		v.progress("log files", i, len(refs))
		res := Result{Kind: KindLog, Bucket: r.f.S3Bucket, Key: r.f.S3Object}
		obj, err := getObject(ctx, v.S3, r.f.S3Bucket, r.f.S3Object)
		var body []byte
		switch {
		case errors.Is(err, errNotFound):
			res.Reason = ReasonNotFound
			missing[r.f.HashValue] = len(results)
		case err != nil:
			return nil, nil, err
		default:
			if body, err = Gunzip(obj.body); err != nil {
				res.Reason = ReasonFormat
			} else if HashHex(body) != r.f.HashValue {
				res.Reason = ReasonHashMismatch
			} else if r.f.S3VersionID != "" && obj.version != r.f.S3VersionID {
				res.Reason = ReasonNotFirstWrite
			} else if fileIDs, _, _, err := ParseLogFile(body); err != nil {
				res.Reason = ReasonFormat
			} else if !r.digest.result.Valid {
				res.Reason = ReasonDigestUnchecked
			} else {
				res.Valid = true
				for _, id := range fileIDs {
					ids[id]++
				}
			}
		}
		results = append(results, res)
	}
	v.progress("log files", len(refs), len(refs))
	versions, err := listVersionsByDay(ctx, v.S3, v.Bucket, v.LogDayPrefix, start, end)
	if err != nil {
		return nil, nil, err
	}
	// Any delete marker or second version in the range, listed in a digest or not.
	byKey := map[string]int{}
	for i, r := range results {
		byKey[r.Key] = i
	}
	var histories []string
	for k := range versions {
		histories = append(histories, k)
	}
	sort.Strings(histories)
	for _, k := range histories {
		t, ok := LogKeyTime(k)
		why := versions[k].tampered()
		if !ok || why == "" || t.Before(start.Truncate(time.Minute)) || !t.Before(end) {
			continue
		}
		if i, ok := byKey[k]; ok {
			if results[i].Valid {
				results[i].Valid, results[i].Reason = false, why
			}
			continue
		}
		byKey[k] = len(results)
		results = append(results, Result{Kind: KindLog, Bucket: v.Bucket, Key: k, Reason: why})
	}
	if coveredFrom == "" {
		return results, ids, nil
	}
	from, _ := time.Parse(time.RFC3339, coveredFrom)
	to, _ := time.Parse(time.RFC3339, coveredTo)
	if from.Before(start) {
		from = start.Truncate(time.Minute)
	}
	if to.After(end) {
		to = end
	}
	var present []string
	for _, k := range histories {
		if t, ok := LogKeyTime(k); ok && versions[k].current && !t.Before(from) && t.Before(to) {
			present = append(present, k)
		}
	}
	for _, k := range present {
		if _, seen := byKey[k]; seen && !referenced[v.Bucket+"/"+k] {
			continue // already reported for its history
		}
		if referenced[v.Bucket+"/"+k] {
			continue
		}
		res := Result{Kind: KindLog, Bucket: v.Bucket, Key: k, Reason: ReasonNotInAnyDigest}
		if obj, err := getObject(ctx, v.S3, v.Bucket, k); err == nil {
			if body, err := Gunzip(obj.body); err == nil {
				if i, ok := missing[HashHex(body)]; ok {
					results[i].Reason = ReasonMoved + " (now at " + k + ")"
					res.Reason = ReasonNotInAnyDigest + " (moved here from " + results[i].Key + ")"
				}
			}
		}
		results = append(results, res)
	}
	return results, ids, nil
}
