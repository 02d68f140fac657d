package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vaultbill/vaultbill/shared/adapters/userpool"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
)

// runUsers is `vaultbill users invite`: it invites a user through the local stack's API (as an
// administrator minted from the local signing key), then gives the invitation a temporary password
// in the local pool and prints it. The API never returns a password; in AWS the pool emails it.
func runUsers(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "invite" {
		return errors.New("usage: vaultbill users invite --email E --role ROLE [--customer cus_...]")
	}
	fs := flag.NewFlagSet("users invite", flag.ContinueOnError)
	email := fs.String("email", "", "the user's email (required)")
	role := fs.String("role", "", "admin, billing, payments, auditor or customer (required)")
	customer := fs.String("customer", "", "the customer of a customer user (cus_...)")
	port := fs.String("port", envOr("PORT", "3000"), "port of the local API (env PORT)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" || *role == "" {
		return errors.New("--email and --role are required")
	}
	body := map[string]string{"email": *email, "role": *role}
	if *customer != "" {
		body["customer_id"] = *customer
	}
	admin, err := devstack.MintFromState(devstack.StateDir(), devstack.TokenSpec{Role: "admin", Subject: "vaultbill-cli"})
	if err != nil {
		return err
	}
	user, err := inviteThroughAPI(ctx, "http://127.0.0.1:"+*port, admin, body)
	if err != nil {
		return err
	}
	o := loginOptions{}
	api, _, err := poolClient(ctx, &o)
	if err != nil {
		return err
	}
	username, err := userpool.UsernameFor(ctx, api, o.pool, *email)
	if err != nil {
		return err
	}
	temp := userpool.TemporaryPassword()
	if err := userpool.SetTemporaryPassword(ctx, api, o.pool, username, temp); err != nil {
		return err
	}
	fmt.Printf("invited %s as %s (id %s)\ntemporary password (valid 1 day, replaced at the first `vaultbill login --email %s`): %s\n",
		*email, *role, user.ID, *email, temp)
	return nil
}

func inviteThroughAPI(ctx context.Context, base, token string, body map[string]string) (struct{ ID string }, error) {
	var out struct{ ID string }
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/users", strings.NewReader(string(b)))
	if err != nil {
		return out, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out, fmt.Errorf("%w (is the local stack running? `make dev`)", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		return out, fmt.Errorf("invite: HTTP %d: %s", resp.StatusCode, rb)
	}
	return out, json.Unmarshal(rb, &out)
}
