package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/schollz/progressbar/v3"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/emulator"
	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	trailwiring "github.com/vaultbill/vaultbill/shared/wiring/audittrail"
)

const auditUsage = `usage:
  vaultbill audit validate --start-time T [--end-time T] [--bucket B] [--verbose]
  vaultbill audit digest [--new-chain REASON]

validate  checks the audit trail as "aws cloudtrail validate-logs" checks CloudTrail's: digest
          signatures, the digest chain and every log file's hash; and beyond it: digests cover the
          whole range with no gap and are current, no file was deleted or replaced (S3 versions), and
          a chain starts over only with a signed reason. Exit status 1 if anything is invalid.
digest    writes the digest for the time since the last one, now. When digest files exist but none
          can be chained to, it refuses; --new-chain REASON starts a new chain signed with REASON.

With AUDIT_BUCKET and AUDIT_SIGNING_KEY_ID set, they name the trail (AWS, credentials from the usual
places); otherwise the command reads the local stack (make dev) at AWS_ENDPOINT_URL.
`

func runAudit(ctx context.Context, args []string) error {
	return audit(ctx, args, os.Stdout, os.Stderr)
}

func audit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return errors.New("name a subcommand: validate or digest")
	}
	switch args[0] {
	case "validate":
		return auditValidate(ctx, args[1:], stdout, stderr)
	case "digest":
		return auditDigest(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, auditUsage)
		return nil
	}
	fmt.Fprint(stderr, auditUsage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// auditEnv is the trail's environment: the one in AUDIT_* variables, or the local stack's.
func auditEnv(ctx context.Context) (wiring.Env, error) {
	log := logging.FromEnv(io.Discard)
	if os.Getenv(config.EnvAuditBucket) != "" {
		return operatorEnv(ctx, log)
	}
	endpoint := emulator.Endpoint()
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return wiring.Env{}, fmt.Errorf("AWS_ENDPOINT_URL %q is not a URL", endpoint)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return wiring.Env{}, fmt.Errorf("nothing answers at %s: start the local stack with `make dev`, or set %s and %s to check a trail in AWS",
			endpoint, config.EnvAuditBucket, config.EnvAuditSigningKey)
	}
	_ = conn.Close()
	cfg, err := devstack.AWSConfig(ctx, endpoint)
	if err != nil {
		return wiring.Env{}, err
	}
	vars := config.Local(resources.LocalNames, devstack.Issuer, "")
	c := config.From(func(k string) string { return vars[k] })
	c.Region = cfg.Region
	return wiring.Env{Config: c, AWS: cfg, Log: log}, nil
}

// parseTime accepts RFC 3339 times and plain dates (midnight UTC).
func parseTime(flagName, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q: use an RFC 3339 time such as 2026-01-31T09:00:00Z, or a date such as 2026-01-31", flagName, s)
}

func auditValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	startS := fs.String("start-time", "", "validate log files delivered from this time (required)")
	endS := fs.String("end-time", "", "up to this time (default now)")
	bucket := fs.String("bucket", "", "the audit bucket (default AUDIT_BUCKET, or the local stack's)")
	verbose := fs.Bool("verbose", false, "list every file, not only the invalid ones")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *startS == "" {
		return errors.New("--start-time is required, e.g. --start-time " + time.Now().UTC().Add(-24*time.Hour).Format(time.DateOnly))
	}
	start, err := parseTime("start-time", *startS)
	if err != nil {
		return err
	}
	end := time.Now().UTC()
	if *endS != "" {
		if end, err = parseTime("end-time", *endS); err != nil {
			return err
		}
	}
	if !start.Before(end) {
		return errors.New("--start-time must be before --end-time")
	}
	env, err := auditEnv(ctx)
	if err != nil {
		return err
	}
	v, err := trailwiring.Validator(env)
	if err != nil {
		return err
	}
	if *bucket != "" {
		v.Bucket = *bucket
	}
	bar := newPhaseProgress(stderr)
	v.Progress = bar.update
	fmt.Fprintf(stdout, "Validating log files for the trail in bucket %s between %s and %s\n\n",
		v.Bucket, start.Format(time.RFC3339), end.Format(time.RFC3339))
	rep, err := v.Validate(ctx, start, end)
	bar.done()
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	printReport(stdout, rep, *verbose)
	if !rep.OK() {
		dv, d, lv, l := rep.Counts()
		return fmt.Errorf("%d of %d digest files and %d of %d log files are INVALID, %d problems with the range", d-dv, d, l-lv, l, len(rep.Problems))
	}
	return nil
}

func printReport(w io.Writer, rep audittrail.Report, verbose bool) {
	for _, r := range rep.Results {
		if r.Valid && !verbose {
			continue
		}
		verdict := "valid"
		if !r.Valid {
			verdict = "INVALID: " + r.Reason
		}
		fmt.Fprintf(w, "%s\ts3://%s/%s\t%s\n", r.Kind, r.Bucket, r.Key, verdict)
	}
	dv, d, lv, l := rep.Counts()
	fmt.Fprintf(w, "\nResults requested for %s to %s\n", rep.Start.Format(time.RFC3339), rep.End.Format(time.RFC3339))
	fmt.Fprintf(w, "%s\n%s\n", countLine(dv, d, "digest files"), countLine(lv, l, "log files"))
	fmt.Fprintf(w, "%d distinct events in valid log files (%d duplicate copies from retried deliveries)\n", rep.Events, rep.Duplicates)
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "INVALID: %s\n", p)
	}
	if d == 0 {
		fmt.Fprintln(w, "No digest files in this range: digests are written hourly; run `vaultbill audit digest` to write one now.")
	}
}

func countLine(valid, total int, what string) string {
	s := fmt.Sprintf("%d/%d %s valid", valid, total, what)
	if valid < total {
		s += fmt.Sprintf(", %d/%d %s INVALID", total-valid, total, what)
	}
	return s
}

func auditDigest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit digest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newChain := fs.String("new-chain", "", "start a new digest chain, signed with this reason, when the previous digest cannot be read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	env, err := auditEnv(ctx)
	if err != nil {
		return err
	}
	d, err := trailwiring.Digest(env)
	if err != nil {
		return err
	}
	// Now, not an hour's end: only the current minute's log files wait for the next digest.
	d.Digester.Lag = time.Second
	d.Digester.NewChainReason = *newChain
	res, err := d.Handle(ctx, events.EventBridgeEvent{})
	if err != nil {
		return err
	}
	if res.Skipped {
		fmt.Fprintf(stdout, "the latest digest already covers this minute: s3://%s/%s\n", env.Config.AuditBucket, res.Key)
		return nil
	}
	fmt.Fprintf(stdout, "wrote s3://%s/%s (%d log files, %s to %s)\n", env.Config.AuditBucket, res.Key, res.LogFiles,
		res.Digest.DigestStartTime, res.Digest.DigestEndTime)
	return nil
}

// phaseProgress draws the validator's phases: a progress bar (schollz/progressbar, as the backup
// commands draw theirs) on a terminal, a plain line per finished phase elsewhere (CI logs).
type phaseProgress struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	phase string
	last  string
}

func newPhaseProgress(w io.Writer) *phaseProgress {
	f, ok := w.(*os.File)
	return &phaseProgress{w: w, tty: ok && isTerminal(f)}
}

func (p *phaseProgress) update(phase string, done, total int) {
	if !p.tty {
		if done == total && phase != p.last {
			p.last = phase
			fmt.Fprintf(p.w, "checked %d %s\n", total, phase)
		}
		return
	}
	if total == 0 {
		return
	}
	if p.bar == nil || phase != p.phase {
		p.done()
		p.phase = phase
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetDescription(fmt.Sprintf("%-9s", phase)),
		)
	}
	_ = p.bar.Set(done)
}

func (p *phaseProgress) done() {
	if p.bar != nil {
		_ = p.bar.Clear()
		p.bar = nil
	}
}
