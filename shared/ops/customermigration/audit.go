package customermigration

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
)

// MigrateEvent is the event name of the audit record of a migration run (counts only).
const MigrateEvent = "MigrateCustomers"

const eventSource = "customers.vaultbill"

// Auditor writes the record of each run to the audit trail.
type Auditor struct {
	Store *audit.Store
	// Principal names who ran it ("cli:<user>"); Account and Region are the stack's.
	Principal, Account, Region string
}

func (a *Auditor) write(ctx context.Context, table string, res Result, err error) error {
	if a == nil || a.Store == nil {
		return err
	}
	rec := audit.Record{
		EventVersion: audit.EventVersion, EventID: audit.NewEventID(), EventTime: audit.FormatTime(time.Now()),
		EventSource: eventSource, EventName: MigrateEvent, EventType: audit.TypeServiceEvent,
		UserIdentity: audit.UserIdentity{
			Type: "AWSService", PrincipalID: a.Principal,
			SessionContext: audit.SessionContext{Attributes: audit.SessionAttributes{MFAAuthenticated: "false"}},
		},
		SourceIPAddress: eventSource, UserAgent: eventSource, RequestID: audit.NewEventID(),
		RequestParameters: map[string]string{"table": table},
		ResponseElements: map[string]string{
			"migrated": strconv.Itoa(res.Migrated), "erased": strconv.Itoa(res.Erased), "changed": strconv.Itoa(res.Changed),
		},
		Resources:          []audit.Resource{{Type: "AWS::DynamoDB::Table", ID: table}},
		RecipientAccountID: a.Account, AWSRegion: a.Region,
	}
	if err != nil {
		rec.ErrorCode = MigrateEvent + "Failed"
		if rec.ErrorMessage = err.Error(); len(rec.ErrorMessage) > 512 {
			rec.ErrorMessage = rec.ErrorMessage[:512]
		}
	}
	// The record is written even when the run was interrupted (its context is done).
	if aerr := a.Store.Put(context.WithoutCancel(ctx), rec); aerr != nil {
		if err != nil {
			return fmt.Errorf("%w (and its audit record was not written: %v)", err, aerr)
		}
		return fmt.Errorf("the migration is done but its audit record was not written: %w", aerr)
	}
	return err
}
