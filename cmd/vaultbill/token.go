package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
)

func runToken(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	var spec devstack.TokenSpec
	fs.StringVar(&spec.Role, "role", "", "role: admin, billing, payments, auditor or customer (required)")
	fs.StringVar(&spec.Subject, "sub", "", "subject (user) name; default <role>-user")
	fs.StringVar(&spec.CustomerID, "customer", "", "customer id (cus_...), required for --role customer")
	fs.BoolVar(&spec.NoMFA, "no-mfa", false, "mint a token without MFA (the API refuses it with 403 mfa_required)")
	fs.DurationVar(&spec.TTL, "ttl", 0, "lifetime, e.g. 15m (default 15m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, ok := auth.RoleFromGroups([]string{spec.Role}); !ok {
		return fmt.Errorf("--role must be one of admin, billing, payments, auditor, customer (got %q)", spec.Role)
	}
	if spec.Role == string(auth.Customer) && spec.CustomerID == "" {
		return fmt.Errorf("--role customer needs --customer cus_... (the customer the token may act for)")
	}
	tok, err := devstack.MintFromState(devstack.StateDir(), spec)
	if err != nil {
		return fmt.Errorf("%w (the key lives in %s; run from the repository root or set VAULTBILL_STATE)", err, devstack.StateDir())
	}
	fmt.Println(tok)
	return nil
}
