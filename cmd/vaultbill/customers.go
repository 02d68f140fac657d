package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	auditstore "github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/customermigration"
)

// runCustomers is "vaultbill customers migrate": seals the personal data of customers stored before
// per-customer keys under keys of their own (shared/ops/customermigration).
func runCustomers(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "migrate" {
		return errors.New("usage: vaultbill customers migrate [--workers N]")
	}
	fs := flag.NewFlagSet("customers migrate", flag.ContinueOnError)
	workers := fs.Int("workers", customermigration.DefaultWorkers, "customers migrated at once")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	env, stop, err := keysEnv(ctx)
	if err != nil {
		return err
	}
	defer stop()
	db := dynamodb.NewFromConfig(env.AWS)
	keys := customerkeys.New(kms.NewFromConfig(env.AWS), db, env.Config.BillingTable, env.Config.DataKeyID)
	m := &customermigration.Migrator{
		DB: db, Store: &billingdb.Store{DB: db, Table: env.Config.BillingTable, Keys: keys}, Keys: keys, Workers: *workers,
		Audit: &customermigration.Auditor{Store: &auditstore.Store{DB: db, Table: env.Config.AuditTable},
			Principal: "cli:" + osUser(), Account: env.Config.Account, Region: env.Config.Region},
	}
	p := newProgress(os.Stderr)
	meter := &backup.Meter{Table: "customers", Phase: migratePhase}
	p.Observe(meter, false)
	m.Progress = func(bool) { meter.Items.Add(1) }
	res, err := m.Run(ctx)
	p.Observe(meter, true)
	p.Close()
	fmt.Printf("migrated %d customers; %d erased (no personal data, left as they are); %d changed meanwhile\n", res.Migrated, res.Erased, res.Changed)
	if err != nil {
		return fmt.Errorf("%w\nRun the same command again: it resumes (only customers still unsealed are read, and each moves in one transaction)", err)
	}
	if res.Changed > 0 {
		fmt.Println("run the command again to migrate the customers that changed meanwhile")
	}
	return nil
}
