package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	auditstore "github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/keyrewrap"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
)

// Progress phases of the key commands.
const (
	rewrapPhase  = "rewrap"
	migratePhase = "migrate"
)

// runKeys is "vaultbill keys rewrap": re-encrypts every data key one KMS key wraps under another
// (shared/ops/keyrewrap), after which the old key can be disabled.
func runKeys(ctx context.Context, args []string) error {
	const use = "usage: vaultbill keys rewrap --key data|vault|backup --to KEY [--from KEY] (key id, ARN or alias)"
	if len(args) == 0 || args[0] != "rewrap" {
		return errors.New(use)
	}
	fs := flag.NewFlagSet("keys rewrap", flag.ContinueOnError)
	key := fs.String("key", "", "the key whose data keys to rewrap: data (customer keys), vault (card data keys, the fingerprint key, backup canaries) or backup (backup data keys)")
	to := fs.String("to", "", "the KMS key to wrap them under (key id, ARN or alias)")
	from := fs.String("from", "", "the KMS key the data keys are wrapped under now (default: the configured key of --key); "+
		"any other source key stops the run")
	workers := fs.Int("workers", keyrewrap.DefaultWorkers, "items rewrapped at once")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	k := keyrewrap.Key(*key)
	if *to == "" || (k != keyrewrap.Data && k != keyrewrap.Vault && k != keyrewrap.Backup) {
		return errors.New(use)
	}
	env, stop, err := keysEnv(ctx)
	if err != nil {
		return err
	}
	defer stop()
	c := env.Config
	rw := &keyrewrap.Rewrapper{
		KMS: kms.NewFromConfig(env.AWS), DB: dynamodb.NewFromConfig(env.AWS),
		BillingTable: c.BillingTable, VaultTable: c.VaultTable, Workers: *workers,
		Current: map[keyrewrap.Key]string{keyrewrap.Data: c.DataKeyID, keyrewrap.Vault: c.VaultKeyID, keyrewrap.Backup: c.BackupKeyID},
	}
	if c.AuditTable != "" {
		rw.Audit = &keyrewrap.Auditor{Store: &auditstore.Store{DB: dynamodb.NewFromConfig(env.AWS), Table: c.AuditTable},
			Principal: "cli:" + osUser(), Account: c.Account, Region: c.Region}
	}
	if *from != "" {
		rw.Current[k] = *from
	}
	if k != keyrewrap.Data {
		if c.BackupBucket == "" {
			fmt.Fprintf(os.Stderr, "%s is not set: backup manifests are not rewrapped\n", config.EnvBackupBucket)
		} else if rw.Backups, err = backupwiring.New(env, "cli:"+osUser()); err != nil {
			return err
		}
	}
	p := newKindProgress(os.Stderr)
	rw.Progress = p.Add
	res, err := rw.Run(ctx, k, *to)
	p.Close()
	printRewrap(os.Stdout, res)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, rewrapAdvice(err))
	}
	fmt.Print(rewrapNext(res, rw.Current[k]))
	return nil
}

// keysEnv is the environment of the key commands: the AWS resources the operator's environment names
// when it sets BILLING_TABLE (with the SDK's full credential chain), otherwise the local stack.
func keysEnv(ctx context.Context) (wiring.Env, func(), error) {
	log := cliLogger()
	if os.Getenv(config.EnvBillingTable) != "" {
		env, err := operatorEnv(ctx, log)
		if err != nil {
			return wiring.Env{}, nil, err
		}
		if err := env.Config.Require(config.EnvBillingTable, config.EnvVaultTable, config.EnvAuditTable, config.EnvDataKey, config.EnvVaultKey); err != nil {
			return wiring.Env{}, nil, err
		}
		return env, func() {}, nil
	}
	s, err := devstack.Start(ctx, devstack.Options{StateDir: devstack.StateDir(), Names: resources.LocalNames, Log: log})
	if err != nil {
		return wiring.Env{}, nil, fmt.Errorf("%w (start the local stack with `make dev`, or set %s and AWS credentials to work on AWS)", err, config.EnvBillingTable)
	}
	return s.Env, s.Stop, nil
}

func printRewrap(w io.Writer, res keyrewrap.Result) {
	if len(res.Counts) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nrewrap of the %s key's data keys under %s\n", res.Key, orDash(res.TargetARN))
	fmt.Fprintln(tw, "ITEMS\tREWRAPPED\tALREADY UNDER TARGET\tDELETED MEANWHILE")
	for _, c := range res.Counts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", c.Kind, c.Rewrapped, c.Skipped, c.Gone)
	}
	tw.Flush()
}

// rewrapAdvice tells the operator what to do about a failed rewrap.
func rewrapAdvice(err error) string {
	var disabled *ktypes.DisabledException
	var state *ktypes.KMSInvalidStateException
	switch {
	case errors.Is(err, keyrewrap.ErrUnusableKey):
		return "Name an enabled symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) with --to; " +
			"the configured key must be enabled during the rewrap too."
	case errors.Is(err, keyrewrap.ErrForeignKey):
		return "An item's data key is wrapped under a KMS key that is neither the configured one nor the target; it was not rewritten. " +
			"Find out where it came from before anything else (the error names the item and the key)."
	case errors.As(err, &disabled), errors.As(err, &state):
		return "A key the rewrap needs is disabled: ReEncrypt must decrypt under the old key. Enable the old key for the " +
			"rewrap (aws kms enable-key), run the command again, then disable it."
	case strings.Contains(err.Error(), "AccessDenied"):
		return "KMS refused: your role needs kms:ReEncryptFrom on the old key and kms:ReEncryptTo and kms:DescribeKey on the target, " +
			"for the encryption contexts of the data keys (see the README, key rewrap)."
	}
	return "Run the same command again: it resumes where it stopped (items already under the target are skipped)."
}

// rewrapNext is what an operator must do after a successful rewrap: readers name their key in
// Decrypt, so the configuration has to name the target now.
func rewrapNext(res keyrewrap.Result, configured string) string {
	if res.SourceARN == res.TargetARN {
		return fmt.Sprintf("\nThe configured %s key is the target: its data keys are all under it, and nothing more is to be done.\n", res.Key)
	}
	env := map[keyrewrap.Key]string{keyrewrap.Data: config.EnvDataKey, keyrewrap.Vault: config.EnvVaultKey, keyrewrap.Backup: config.EnvBackupKey}[res.Key]
	var b strings.Builder
	fmt.Fprintf(&b, "\nEvery data key of the %s key is now wrapped under %s. Next:\n", res.Key, res.TargetARN)
	if strings.HasPrefix(configured, "alias/") {
		fmt.Fprintf(&b, "  1. point the alias the functions use at it:  aws kms update-alias --alias-name %s --target-key-id %s\n", configured, res.TargetARN)
	} else {
		fmt.Fprintf(&b, "  1. set %s of every function to %s (and grant their roles the same use of it)\n", env, res.TargetARN)
	}
	fmt.Fprintf(&b, "  2. disable the old key (%s):  aws kms disable-key --key-id %s\n", orDash(res.SourceARN), orDash(res.SourceARN))
	if res.Key != keyrewrap.Backup {
		b.WriteString("  3. take a backup now (vaultbill backup): older backups hold items wrapped under the old key\n")
	}
	return b.String()
}

// kindProgress draws the progress of a run over several kinds of item, one meter per kind, with
// the backup commands' progress (a bar on a terminal, plain lines otherwise).
type kindProgress struct {
	p   *progress
	mu  sync.Mutex
	cur *backup.Meter
}

func newKindProgress(f *os.File) *kindProgress { return &kindProgress{p: newProgress(f)} }

// Add counts one item of kind; it is safe for concurrent use.
func (k *kindProgress) Add(kind string, _ bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil || k.cur.Table != kind {
		if k.cur != nil {
			k.p.Observe(k.cur, true)
		}
		k.cur = &backup.Meter{Table: kind, Phase: rewrapPhase}
		k.p.Observe(k.cur, false)
	}
	k.cur.Items.Add(1)
}

// Close ends the last meter and stops drawing.
func (k *kindProgress) Close() {
	k.mu.Lock()
	if k.cur != nil {
		k.p.Observe(k.cur, true)
	}
	k.mu.Unlock()
	k.p.Close()
}
