// Command cost measures what each API route and each scheduled job uses on the local stack (an
// emulator it starts, or AWS_ENDPOINT_URL) and prints dollars per million requests per route and
// the daily cost of the scheduled work, from the price table in shared/ops/cost (make cost).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/vaultbill/vaultbill/shared/local/devstack/costrun"
	"github.com/vaultbill/vaultbill/shared/local/emulator"
	"github.com/vaultbill/vaultbill/shared/ops/cost"
)

func main() {
	runs := flag.Int("runs", 3, "how many times each route is measured")
	verbose := flag.Bool("v", false, "list the AWS calls each route makes")
	flag.Parse()
	if err := run(*runs, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(1)
	}
}

func run(runs int, verbose bool) error {
	ctx := context.Background()
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		ep, err := emulator.FreeEndpoint()
		if err != nil {
			return err
		}
		emu, err := emulator.Ensure(ctx, ep, nil)
		if err != nil {
			return err
		}
		defer emu.Stop()
		endpoint = ep
	}
	state, err := os.MkdirTemp("", "vaultbill-cost-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	rep, err := costrun.Run(ctx, costrun.Options{Endpoint: endpoint, StateDir: state, Runs: runs})
	if err != nil {
		return err
	}
	return costrun.Print(os.Stdout, cost.USEast1, rep, verbose)
}
