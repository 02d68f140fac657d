package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	auditstore "github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	cardwiring "github.com/vaultbill/vaultbill/shared/wiring/cards"
)

// importPhase is the progress phase of a card import.
const importPhase = "import"

// runTokens is "vaultbill tokens import": the bulk load of a customer's existing cards, which goes
// through the vault directly with the operator's AWS credentials, never through the API (whose
// card-attempt limit would refuse it, and rightly).
func runTokens(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "import" {
		return errors.New(`usage: vaultbill tokens import --file cards.csv --customer cus_...`)
	}
	fs := flag.NewFlagSet("tokens import", flag.ContinueOnError)
	file := fs.String("file", "", "CSV of cards, one a line: number,exp_month,exp_year[,name] (a header row is skipped)")
	customer := fs.String("customer", "", "the customer the cards belong to (cus_...)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *file == "" || *customer == "" {
		return errors.New("--file and --customer are required")
	}
	env, stop, err := vaultEnv(ctx)
	if err != nil {
		return err
	}
	defer stop()
	res, err := importCards(ctx, env, *file, *customer, os.Stderr)
	fmt.Printf("created %d, already stored %d, rejected %d\n", res.Created, res.Existing, len(res.Rejected))
	for _, r := range res.Rejected {
		fmt.Printf("  line %d: %s\n", r.Row, r.Reason)
	}
	return err
}

// vaultEnv is the environment of an import: the AWS resources the operator's environment names when
// it sets VAULT_TABLE (with the SDK's full credential chain), otherwise the local stack.
func vaultEnv(ctx context.Context) (wiring.Env, func(), error) {
	log := cliLogger()
	if os.Getenv(config.EnvVaultTable) != "" {
		env, err := operatorEnv(ctx, log)
		if err != nil {
			return wiring.Env{}, nil, err
		}
		if err := env.Config.Require(config.EnvVaultTable, config.EnvVaultKey, config.EnvDataKey, config.EnvBillingTable, config.EnvAuditTable); err != nil {
			return wiring.Env{}, nil, err
		}
		return env, func() {}, nil
	}
	s, err := devstack.Start(ctx, devstack.Options{StateDir: devstack.StateDir(), Names: resources.LocalNames, Log: log})
	if err != nil {
		return wiring.Env{}, nil, fmt.Errorf("%w (start the local stack with `make dev`, or set %s and AWS credentials to work on AWS)", err, config.EnvVaultTable)
	}
	return s.Env, s.Stop, nil
}

// importCards reads file and tokenizes its cards for customer, drawing progress on w. Rejected rows
// are numbered by their line in the file.
func importCards(ctx context.Context, env wiring.Env, file, customer string, w *os.File) (tokens.ImportResult, error) {
	cards, lines, err := readCards(file)
	if err != nil {
		return tokens.ImportResult{}, err
	}
	db := dynamodb.NewFromConfig(env.AWS)
	v := cardwiring.Vault(env, db)
	defer v.Close()
	im := &tokens.Importer{
		Vault: v, DB: db, BillingTable: env.Config.BillingTable, Audit: &auditstore.Store{DB: db, Table: env.Config.AuditTable},
		Principal: "cli:" + osUser(), Account: env.Config.Account, Region: env.Config.Region,
	}
	p := newProgress(w)
	m := &backup.Meter{Table: customer, Phase: importPhase, TotalItems: int64(len(cards))}
	p.Observe(m, false)
	res, err := im.Import(ctx, customer, cards, func() { m.Items.Add(1) })
	p.Observe(m, true)
	p.Close()
	for i := range res.Rejected {
		res.Rejected[i].Row = lines[res.Rejected[i].Row-1]
	}
	return res, err
}

// readCards parses the import file into cards and the line of each. Errors name the line, never its
// content.
func readCards(file string) ([]card.Input, []int, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var out []card.Input
	var lines []int
	for row := 1; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, lines, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s line %d: not valid CSV", file, row)
		}
		if row == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "number") {
			continue // header
		}
		if len(rec) < 3 || len(rec) > 4 {
			return nil, nil, fmt.Errorf("%s line %d: want number,exp_month,exp_year[,name]", file, row)
		}
		month, merr := strconv.Atoi(strings.TrimSpace(rec[1]))
		year, yerr := strconv.Atoi(strings.TrimSpace(rec[2]))
		if merr != nil || yerr != nil {
			return nil, nil, fmt.Errorf("%s line %d: exp_month and exp_year must be numbers", file, row)
		}
		in := card.Input{Number: card.NewPAN([]byte(strings.TrimSpace(rec[0]))), ExpMonth: month, ExpYear: year}
		if len(rec) == 4 {
			in.Name = strings.TrimSpace(rec[3])
		}
		out = append(out, in)
		lines = append(lines, row)
	}
}
