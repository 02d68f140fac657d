package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/schollz/progressbar/v3"

	"github.com/vaultbill/vaultbill/shared/adapters/erasures"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/api/config"
)

// runErasures is "vaultbill erasures reapply": after a restore made outside "vaultbill restore" (a
// DynamoDB point-in-time recovery or an AWS Backup restore), it erases again every customer of the
// erasure ledger in the restored tables, so no backup brings an erased customer's data back. It is
// idempotent: run it again after an interruption.
func runErasures(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "reapply" {
		return fmt.Errorf(`usage: vaultbill erasures reapply --billing-table NAME [--vault-table NAME]`)
	}
	fs := flag.NewFlagSet("erasures reapply", flag.ContinueOnError)
	billingTable := fs.String("billing-table", "", "restored billing table to re-apply the erasures to")
	vaultTable := fs.String("vault-table", "", "restored vault table to delete erased customers' tokens from")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *billingTable == "" && *vaultTable == "" {
		fs.Usage()
		return fmt.Errorf("name --billing-table, --vault-table or both")
	}
	env, err := operatorEnv(ctx, cliLogger())
	if err != nil {
		return err
	}
	if err := env.Config.Require(config.EnvBackupBucket); err != nil {
		return err
	}
	ledger := &erasures.Ledger{S3: s3client.New(env.AWS), Bucket: env.Config.BackupBucket}
	entries, err := ledger.All(ctx)
	if err != nil {
		return err
	}
	bar := progressbar.NewOptions(len(entries), progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowCount(),
		progressbar.OptionSetDescription("erasures"), progressbar.OptionSetItsString("customers"), progressbar.OptionShowIts())
	err = erasures.Reapply(ctx, dynamodb.NewFromConfig(env.AWS), erasures.Tables{Billing: *billingTable, Vault: *vaultTable}, entries,
		func(done, _ int) { _ = bar.Set(done) })
	_ = bar.Finish()
	if err != nil {
		return fmt.Errorf("%w\nrun the command again: it resumes (every step is idempotent)", err)
	}
	fmt.Printf("\nre-applied %d erasures to %s %s\n", len(entries), *billingTable, *vaultTable)
	return nil
}
