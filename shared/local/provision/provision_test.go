package provision_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"

	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/local/provision"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// dropFirstAnswer forwards every request, but loses the answer to the first attempt of each listed
// operation after the emulator applied it: the connection reset a busy emulator or network produces.
// The SDK retries, and the retry meets the first attempt's effect.
type dropFirstAnswer struct {
	next    aws.HTTPClient
	mu      sync.Mutex
	ops     map[string]bool // operation -> still to drop
	dropped []string
}

func (d *dropFirstAnswer) Do(req *http.Request) (*http.Response, error) {
	op := awsmiddleware.GetOperationName(req.Context())
	resp, err := d.next.Do(req)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	drop := d.ops[op]
	if drop {
		d.ops[op] = false
		d.dropped = append(d.dropped, op)
	}
	d.mu.Unlock()
	if !drop {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset after the request was applied")}
}

// TestApplySurvivesLostAnswers: provisioning a stack must not fail because the answer to a create call
// was lost and the SDK's retry found the resource already there. A test stack (and `vaultbill dev`)
// is provisioned on a shared emulator under load, where this happens.
func TestApplySurvivesLostAnswers(t *testing.T) {
	ep := stacktest.Endpoint(t)
	cfg, err := devstack.AWSConfig(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	drop := &dropFirstAnswer{next: cfg.HTTPClient, ops: map[string]bool{
		"CreateTable": true, "CreateAlias": true, "CreateBucket": true, "CreateGroup": true,
	}}
	if drop.next == nil {
		drop.next = http.DefaultClient
	}
	cfg = cfg.Copy()
	cfg.HTTPClient = drop
	p := provision.New(cfg, resources.Names{Prefix: stacktest.UniquePrefix()})
	if err := p.Apply(context.Background()); err != nil {
		t.Fatalf("provision with lost answers: %v", err)
	}
	if _, err := p.UserPool(context.Background(), ep); err != nil {
		t.Fatalf("user pool with lost answers: %v", err)
	}
	if len(drop.dropped) != 4 {
		t.Fatalf("answers lost: %v, want one each of CreateTable, CreateAlias, CreateBucket, CreateGroup", drop.dropped)
	}
	created := 0
	p.Progress = func(kind, name string, c bool) {
		if c {
			created++
		}
	}
	if err := p.Apply(context.Background()); err != nil || created != 0 {
		t.Fatalf("second apply: %v, %d created; want nothing to do", err, created)
	}
}
