package templatetests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/local/devstack/lambdaruntime"
)

// ColdStartGoal is the cold start every function must stay within: this many times the init of the
// smallest aws-lambda-go function, built with the same flags and run under the same emulator.
const ColdStartGoal = 1.5

// BenchmarkColdStart measures each function's init (process start to its first Runtime API next
// call, as the emulator reports it) against the hello-world baseline, in one run: each round starts
// every function once, interleaved so that load on the machine hits all alike; the minimum of the
// rounds (at least 10) is each function's init. It reports <function>-x-hello ratios and names the
// functions over ColdStartGoal.
func BenchmarkColdStart(b *testing.B) {
	h := startRuntime(b, lambdaruntime.Hello)
	ts := h.templates(b)
	names := append([]string{lambdaruntime.Hello}, stacks.FunctionNames()...)
	fns := map[string]lambdaruntime.Function{lambdaruntime.Hello: {Name: lambdaruntime.Hello, MemoryMB: 128, TimeoutSeconds: 3}}
	for _, n := range names[1:] {
		f, err := ts.Function(n, h.local)
		if err != nil {
			b.Fatal(err)
		}
		fns[n] = f
	}
	// An event no function accepts: each answers at once with an unmarshal error, so a round costs
	// the cold starts and not a backup.
	event := []byte(`"cold start"`)
	best := map[string]time.Duration{}
	rounds := max(b.N, 10)
	ctx := context.Background()
	b.ResetTimer()
	for range rounds {
		for _, n := range names {
			inst, err := lambdaruntime.Start(ctx, h.rie, h.bootstraps[n], fns[n], h.local, nil)
			if err != nil {
				b.Fatal(err)
			}
			r, err := inst.Invoke(ctx, event)
			inst.Stop()
			if err != nil {
				b.Fatalf("%s: %v", n, err)
			}
			if r.Init <= 0 {
				b.Fatalf("%s: the emulator reported no init duration:\n%s", n, inst.Output())
			}
			if d, ok := best[n]; !ok || r.Init < d {
				best[n] = r.Init
			}
		}
	}
	b.StopTimer()
	hello := best[lambdaruntime.Hello]
	var table strings.Builder
	fmt.Fprintf(&table, "cold start, minimum of %d rounds (goal: every function within %.1fx hello)\n", rounds, ColdStartGoal)
	fmt.Fprintf(&table, "%-14s %9s %8s\n", "function", "init", "x hello")
	var over []string
	for _, n := range names {
		ratio := float64(best[n]) / float64(hello)
		fmt.Fprintf(&table, "%-14s %7.2fms %7.2fx\n", n, float64(best[n].Microseconds())/1000, ratio)
		if n != lambdaruntime.Hello {
			b.ReportMetric(ratio, n+"-x-hello")
			if ratio > ColdStartGoal {
				over = append(over, n)
			}
		}
	}
	b.ReportMetric(float64(hello.Microseconds())/1000, "hello-init-ms")
	// Printed, not logged: the testing package cuts a benchmark's log at ten lines.
	fmt.Print(table.String())
	// Reported, not failed: what is left over the goal is the package init of the SDK services a
	// function uses (endpoint tables and schemas), which no wiring change removes.
	if len(over) > 0 {
		b.Logf("over the %.1fx goal: %v", ColdStartGoal, over)
	}
}
