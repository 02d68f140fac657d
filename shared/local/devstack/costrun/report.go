package costrun

import (
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/ops/cost"
)

// RequestsPerDay is the load the scheduled work's daily cost is given at.
const RequestsPerDay = 1_000_000

// PerMillion is the cost of a million of the requests m measured.
func PerMillion(p cost.Prices, m Measured) cost.Breakdown {
	b := p.Cost(m.Usage).Times(1_000_000)
	runs := cost.Picodollars(max(m.Runs, 1))
	return cost.Breakdown{APIGateway: b.APIGateway / runs, WAF: b.WAF / runs, Lambda: b.Lambda / runs, DynamoDB: b.DynamoDB / runs,
		KMS: b.KMS / runs, S3: b.S3 / runs, CloudWatch: b.CloudWatch / runs}
}

// RunsPerDay is how often each scheduled function runs at RequestsPerDay: the shipper once per
// batching window (one minute) unless the records overflow its batch size, the digest hourly,
// the backup daily, the restore test weekly.
func RunsPerDay(job string, shippedPerRequest float64) float64 {
	switch job {
	case "audit-shipper":
		windows := float64(24 * 60 * 60 / int(stacks.ShipperBatchingWindow.Seconds()))
		return math.Max(windows, math.Ceil(shippedPerRequest*RequestsPerDay/stacks.ShipperBatchSize))
	case "audit-digest":
		return 24
	case "backup":
		return 1
	case "restore-test":
		return 1.0 / 7
	}
	return 0
}

// Print writes the report: dollars per million requests per route, most expensive first, and the
// daily cost of the scheduled work; verbose adds the AWS calls each route made.
func Print(w io.Writer, p cost.Prices, rep *Report, verbose bool) error {
	d := func(v cost.Picodollars) string { return fmt.Sprintf("%.3f", v.Dollars()) }
	fmt.Fprintf(w, "Prices: %s on demand, as of %s (shared/ops/cost/prices.go). Authorizer cache TTL %g s: ", p.Region, p.Date, rep.AuthorizerCacheSeconds)
	if rep.AuthorizerCacheSeconds == 0 {
		fmt.Fprintln(w, "one authorizer invocation per request.")
	} else {
		fmt.Fprintln(w, "the local gateway does not cache, so authorizer figures are an upper bound.")
	}
	fmt.Fprintln(w, "Lambda duration is each invocation timed on this machine against the emulator, rounded up to 1 ms, at the")
	fmt.Fprintln(w, "function's configured memory: a rough proxy for AWS. DynamoDB units follow DynamoDB's size rules.")
	fmt.Fprintln(w)
	routes := append([]Measured(nil), rep.Routes...)
	sort.SliceStable(routes, func(i, j int) bool {
		return PerMillion(p, routes[i]).Total() > PerMillion(p, routes[j]).Total()
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "route\tfunction\tWCU/req\tRCU/req\tKMS/req\tS3/req\tms/req\t| $/M: APIGW\tWAF\tLambda\tDynamoDB\tKMS\tS3\tLogs\ttotal\t")
	for _, m := range routes {
		b, n := PerMillion(p, m), float64(max(m.Runs, 1))
		u := m.Usage
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t| %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", m.Name, m.Function,
			float64(u.DynamoDBWriteUnits)/n, float64(u.DynamoDBReadHalfUnits)/2/n, float64(u.KMSRequests)/n,
			float64(u.S3WriteRequests+u.S3ReadRequests)/n, float64(u.LambdaMBms)/n/float64(memoryOf(m.Function)),
			d(b.APIGateway), d(b.WAF), d(b.Lambda), d(b.DynamoDB), d(b.KMS), d(b.S3), d(b.CloudWatch), d(b.Total()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if verbose {
		for _, m := range routes {
			keys := make([]string, 0, len(m.Calls))
			for k := range m.Calls {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			fmt.Fprintf(w, "%s (%d runs):", m.Name, m.Runs)
			for _, k := range keys {
				fmt.Fprintf(w, " %s×%d", k, m.Calls[k])
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "\nScheduled work at %d requests a day (%.2f audit records shipped per request):\n", RequestsPerDay, rep.ShippedPerRequest)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\truns/day\tWCU/run\tRCU/run\tKMS/run\tS3/run\tms/run\t$/run\t$/day\t")
	var day float64
	for _, j := range rep.Jobs {
		b := p.Cost(j.Usage)
		runs := RunsPerDay(j.Name, rep.ShippedPerRequest)
		day += b.Total().Dollars() * runs
		u := j.Usage
		fmt.Fprintf(tw, "%s\t%.2f\t%d\t%.1f\t%d\t%d\t%d\t%.6f\t%.4f\t\n", j.Name, runs, u.DynamoDBWriteUnits, float64(u.DynamoDBReadHalfUnits)/2,
			u.KMSRequests, u.S3WriteRequests+u.S3ReadRequests, u.LambdaMBms/memoryOf(j.Function), b.Total().Dollars(), b.Total().Dollars()*runs)
	}
	fmt.Fprintf(tw, "total\t\t\t\t\t\t\t\t%.4f\t\n", day)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nThe backup and the restore test scale with the tables' size, not the requests: measured here on the run's")
	fmt.Fprintln(w, "small tables. The digest's S3 reads grow with the log files of its hour (one per shipper run).")
	return nil
}

func memoryOf(fn string) int64 {
	if mb := memoryMB()[fn]; mb > 0 {
		return mb
	}
	return 1
}
