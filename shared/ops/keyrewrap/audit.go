package keyrewrap

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
)

// Audit record of a run: one per run, with the keys and counts (key ARNs and numbers only).
const (
	// RewrapEvent is the event name of a rewrap run.
	RewrapEvent = "RewrapDataKeys"
	eventSource = "keys.vaultbill"
)

// Auditor writes the record of each run to the audit trail.
type Auditor struct {
	Store *audit.Store
	// Principal names who ran it ("cli:<user>"); Account and Region are the stack's.
	Principal, Account, Region string
}

// record is the audit record of a run that ended with err.
func (a *Auditor) record(res Result, to string, err error) audit.Record {
	params := map[string]string{"key": string(res.Key), "to": to}
	elems := map[string]string{"targetKeyId": res.TargetARN, "sourceKeyId": res.SourceARN}
	var rewrapped, skipped, gone int
	for _, c := range res.Counts {
		rewrapped, skipped, gone = rewrapped+c.Rewrapped, skipped+c.Skipped, gone+c.Gone
	}
	elems["rewrapped"], elems["skipped"], elems["gone"] = strconv.Itoa(rewrapped), strconv.Itoa(skipped), strconv.Itoa(gone)
	rec := audit.Service{Source: eventSource, Principal: a.Principal, Account: a.Account, Region: a.Region}.Record(RewrapEvent, time.Now(), err)
	rec.RequestParameters, rec.ResponseElements = params, elems
	for _, arn := range []string{res.SourceARN, res.TargetARN} {
		if arn != "" {
			rec.Resources = append(rec.Resources, audit.Resource{Type: "AWS::KMS::Key", ARN: arn, ID: arn})
		}
	}
	return rec
}

// write records a run; a run that cannot be audited fails (the data keys have moved all the same,
// and a second run, which finds nothing to do, writes the record).
func (a *Auditor) write(ctx context.Context, res Result, to string, err error) error {
	if a == nil || a.Store == nil {
		return err
	}
	// The record is written even when the run was interrupted (its context is done).
	if aerr := a.Store.Put(context.WithoutCancel(ctx), a.record(res, to, err)); aerr != nil {
		if err != nil {
			return fmt.Errorf("%w (and its audit record was not written: %v)", err, aerr)
		}
		return fmt.Errorf("the rewrap is done but its audit record was not written: %w", aerr)
	}
	return err
}
