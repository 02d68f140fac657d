// Package customermigration moves customers stored before per-customer keys (name, email, address
// and tax id as plain attributes of the customer item) under keys of their own
// (shared/adapters/customerkeys, shared/adapters/billingdb's personal data). It is idempotent and resumable: it reads
// only the customer items that are still unsealed, and each one moves in a single conditional
// transaction, so a second run, or a run after an interruption, finds nothing left or finishes the rest.
package customermigration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/tablescan"
)

// DB is the DynamoDB calls of a migration; *dynamodb.Client satisfies it.
type DB interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Forgetter drops a customer's key from the key cache (*customerkeys.Keys): a key created for a
// transaction that did not commit must not be used.
type Forgetter interface {
	Forget(customerID string)
}

// Migrator migrates the customers of one billing table.
type Migrator struct {
	DB    DB
	Store *billingdb.Store
	Keys  Forgetter
	// Workers is how many customers move at once (DefaultWorkers when 0).
	Workers int
	// Audit, if set, records every run in the audit trail.
	Audit *Auditor
	// Progress, if set, is told of every unsealed customer item found: migrated, or not (erased, or
	// changed by someone else meanwhile).
	Progress func(migrated bool)
}

// DefaultWorkers is how many customers move at once.
const DefaultWorkers = 8

// Result counts a run.
type Result struct {
	// Migrated customers were sealed under a new key; Erased ones have no personal data and stay as
	// they are; Changed ones were changed meanwhile (the next run looks at them again).
	Migrated, Erased, Changed int
}

// Run migrates every customer item of the table that still holds its personal data in clear, and
// records the run in the audit trail.
func (m *Migrator) Run(ctx context.Context) (Result, error) {
	res, err := m.run(ctx)
	return res, m.Audit.write(ctx, m.Store.Table, res, err)
}

func (m *Migrator) run(ctx context.Context) (Result, error) {
	var res Result
	var mu sync.Mutex
	workers := m.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	names := maps.Clone(billingdb.CustomerFilterNames)
	names["#personal"] = billingdb.AttrPersonal
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(m.Store.Table),
		FilterExpression:          aws.String(billingdb.CustomerFilter + " AND attribute_not_exists(#personal)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: billingdb.CustomerFilterValues,
		ConsistentRead:            aws.Bool(true),
	}
	err := tablescan.Each(ctx, m.DB, in, workers, func(ctx context.Context, item map[string]types.AttributeValue) error {
		o, err := m.one(ctx, item)
		if err != nil {
			return err
		}
		mu.Lock()
		switch o {
		case migrated:
			res.Migrated++
		case erased:
			res.Erased++
		case changed:
			res.Changed++
		}
		mu.Unlock()
		if m.Progress != nil {
			m.Progress(o == migrated)
		}
		return nil
	})
	return res, err
}

type outcome int

const (
	migrated outcome = iota
	erased
	changed
)

// one migrates one customer item: with a new key, or with the key it already has when the put of a
// new one finds it there (a key item without a sealed customer is left by no code path today, but
// a restored or hand-edited table may hold one; it must be used, not replaced).
func (m *Migrator) one(ctx context.Context, item map[string]types.AttributeValue) (outcome, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	for _, keyExists := range []bool{false, true} {
		writes, id, err := m.Store.MigrationItems(ctx, item, keyExists)
		if err != nil {
			return 0, fmt.Errorf("customer %s: %w", id, err)
		}
		if len(writes) == 0 {
			return erased, nil
		}
		_, err = m.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: writes})
		if err == nil {
			return migrated, nil
		}
		if !keyExists {
			m.Keys.Forget(id) // the key created for this transaction was never stored
		}
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) {
			return 0, fmt.Errorf("customer %s: %w", id, err)
		}
		reasons := tc.CancellationReasons
		if !keyExists && len(reasons) == 2 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" &&
			aws.ToString(reasons[1].Code) != "ConditionalCheckFailed" {
			continue // the customer has a key already: seal under it
		}
		if n := len(reasons); n > 0 && aws.ToString(reasons[n-1].Code) == "ConditionalCheckFailed" {
			return changed, nil
		}
		return 0, fmt.Errorf("customer %s: %w", id, err)
	}
	return changed, nil
}
