package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Fault is one way a dependency call goes wrong.
type Fault string

// The faults the injector knows. Throttle, Timeout and ServerError fail before the emulator sees the
// request; Drop forwards it, lets the emulator apply it, and loses the answer: the caller cannot tell
// whether its write happened, which is what makes idempotency and recovery necessary.
const (
	Throttle    Fault = "throttle"
	Timeout     Fault = "timeout"
	ServerError Fault = "5xx"
	Drop        Fault = "drop"
)

// AllFaults is every fault, in a fixed order (seeded draws depend on it).
var AllFaults = []Fault{Throttle, Timeout, ServerError, Drop}

// FaultRule makes calls of one service ("DynamoDB", "KMS", "S3"; "" for all) and operation ("GetItem";
// "" for all) fail with probability P, with one of Faults (all of them when empty) drawn at random,
// at most Limit times (0: no limit).
type FaultRule struct {
	Service, Operation string
	P                  float64
	Faults             []Fault
	Limit              int
}

// Faults injects dependency faults into the SDK clients of an aws.Config, with a seeded random source so
// that a run replays. It is safe for concurrent use; the draws of concurrent calls interleave in the
// order they arrive, so a replay of a concurrent run is close to, not exactly, the first one.
type Faults struct {
	mu       sync.Mutex
	rng      *rand.Rand
	rules    []FaultRule
	on       bool
	injected map[string]int // "Service Operation fault"
	fired    []int          // faults injected by each rule, for its Limit
	next     aws.HTTPClient
	// applied holds the ClientRequestToken of each TransactWriteItems whose answer was dropped.
	applied map[string]bool
}

// InjectFaults returns a copy of cfg whose clients go through the returned Faults, off until Set is
// called. The SDK's retryer stays on, as in AWS, so a fault reaches the application only when every
// attempt failed or the retryer does not retry it (a dropped response of a conditional write does not
// fail again: the retry meets the first write's effect). Backoff is disabled and the retry quota
// unlimited so that a test never sleeps and the outcome depends only on the seed.
func InjectFaults(cfg aws.Config, seed uint64) (aws.Config, *Faults) {
	f := &Faults{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), injected: map[string]int{}, next: cfg.HTTPClient, applied: map[string]bool{}}
	if f.next == nil {
		f.next = http.DefaultClient
	}
	cfg = cfg.Copy()
	cfg.APIOptions = slices.Clone(cfg.APIOptions)
	cfg.HTTPClient = f
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = noBackoff{}
			o.RateLimiter = noQuota{}
		})
	}
	return cfg, f
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

type noQuota struct{}

func (noQuota) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noQuota) AddTokens(uint) error { return nil }

// Set replaces the rules and turns injection on (nil rules: off).
func (f *Faults) Set(rules ...FaultRule) {
	f.mu.Lock()
	f.rules, f.on, f.fired = rules, len(rules) > 0, make([]int, len(rules))
	f.mu.Unlock()
}

// Off stops injecting; calls then reach the emulator unharmed.
func (f *Faults) Off() { f.Set() }

// Injected returns how many faults were injected, keyed "Service Operation fault".
func (f *Faults) Injected() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.injected))
	for k, n := range f.injected {
		out[k] = n
	}
	return out
}

// Total is the number of faults injected.
func (f *Faults) Total() int {
	n := 0
	for _, c := range f.Injected() {
		n += c
	}
	return n
}

// Summary is Injected as sorted lines, for a report.
func (f *Faults) Summary() string {
	var lines []string
	for k, n := range f.Injected() {
		lines = append(lines, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(lines)
	return strings.Join(lines, ", ")
}

// draw decides the fault of one call, if any.
func (f *Faults) draw(service, op string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on {
		return "", false
	}
	for i, r := range f.rules {
		if (r.Service != "" && r.Service != service) || (r.Operation != "" && r.Operation != op) {
			continue
		}
		if r.Limit > 0 && f.fired[i] >= r.Limit {
			continue
		}
		if f.rng.Float64() >= r.P {
			return "", false
		}
		f.fired[i]++
		faults := r.Faults
		if len(faults) == 0 {
			faults = AllFaults
		}
		fault := faults[f.rng.IntN(len(faults))]
		f.injected[service+" "+op+" "+string(fault)]++
		return fault, true
	}
	return "", false
}

// Do sends one HTTP attempt of an SDK call, or fails it.
func (f *Faults) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
	var token string
	if service == "DynamoDB" && op == "TransactWriteItems" {
		var err error
		if token, err = requestToken(req); err != nil {
			return nil, err
		}
		f.mu.Lock()
		again := f.applied[token]
		f.mu.Unlock()
		if again {
			// DynamoDB answers a repeated ClientRequestToken (the SDK sets one per call and keeps it across
			// retries) with success and does not apply the transaction again; moto does not implement it.
			return response(req, 200, http.Header{"Content-Type": {"application/x-amz-json-1.0"}}, "{}"), nil
		}
	}
	fault, ok := f.draw(service, op)
	if !ok {
		return f.next.Do(req)
	}
	switch fault {
	case Throttle:
		if service == "S3" {
			return xmlError(req, 503, "SlowDown", "Please reduce your request rate."), nil
		}
		code := "ThrottlingException"
		if service == "DynamoDB" {
			code = "ProvisionedThroughputExceededException"
		}
		return jsonError(req, 400, code, "injected throttling"), nil
	case ServerError:
		if service == "S3" {
			return xmlError(req, 500, "InternalError", "injected server error"), nil
		}
		code := "InternalServerError"
		if service == "KMS" {
			code = "KMSInternalException"
		}
		return jsonError(req, 500, code, "injected server error"), nil
	case Timeout:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &timeoutError{}}
	default: // Drop
		resp, err := f.next.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if token != "" && resp.StatusCode == 200 {
			f.mu.Lock()
			f.applied[token] = true
			f.mu.Unlock()
		}
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("injected connection reset after the request was applied")}
	}
}

// timeoutError is a network timeout (net.Error), as a dial that hit its deadline reports.
type timeoutError struct{}

func (*timeoutError) Error() string   { return "injected i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }

func jsonError(req *http.Request, status int, code, msg string) *http.Response {
	body := fmt.Sprintf(`{"__type":"%s","message":%q}`, code, msg)
	h := http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Errortype": {code}}
	return response(req, status, h, body)
}

func xmlError(req *http.Request, status int, code, msg string) *http.Response {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
	return response(req, status, http.Header{"Content-Type": {"application/xml"}}, body)
}

func response(req *http.Request, status int, h http.Header, body string) *http.Response {
	return &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// requestToken reads a TransactWriteItems request's ClientRequestToken, leaving the body readable.
func requestToken(req *http.Request) (string, error) {
	if req.Body == nil {
		return "", nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return "", err
	}
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(b))
	var in struct{ ClientRequestToken string }
	_ = json.Unmarshal(b, &in)
	return in.ClientRequestToken, nil
}
