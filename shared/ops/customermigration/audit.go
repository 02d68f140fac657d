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
	rec := audit.Service{Source: eventSource, Principal: a.Principal, Account: a.Account, Region: a.Region}.Record(MigrateEvent, time.Now(), err)
	rec.RequestParameters = map[string]string{"table": table}
	rec.ResponseElements = map[string]string{
		"migrated": strconv.Itoa(res.Migrated), "erased": strconv.Itoa(res.Erased), "changed": strconv.Itoa(res.Changed),
	}
	rec.Resources = []audit.Resource{{Type: "AWS::DynamoDB::Table", ID: table}}
	// The record is written even when the run was interrupted (its context is done).
	if aerr := a.Store.Put(context.WithoutCancel(ctx), rec); aerr != nil {
		if err != nil {
			return fmt.Errorf("%w (and its audit record was not written: %v)", err, aerr)
		}
		return fmt.Errorf("the migration is done but its audit record was not written: %w", aerr)
	}
	return err
}
