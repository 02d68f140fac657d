package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/handlers/hostedpage"
)

// runPage is "vaultbill page check --url URL": the scheduled check of the hosted invoice page
// (PCI DSS 11.6.1), on demand. The URL is a page link, or the API's base URL + /pay/page-check.
func runPage(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return errors.New("usage: vaultbill page check --url https://<api>/pay/page-check")
	}
	fs := flag.NewFlagSet("page check", flag.ContinueOnError)
	url := fs.String("url", "", "the page to check: a link, or the API's base URL + "+hostedpage.CanaryPath)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("--url is required")
	}
	c := &hostedpage.Checker{
		Client: &http.Client{Timeout: 20 * time.Second}, URL: *url,
		Log: logging.New(os.Stderr, slog.LevelInfo), Alert: &hostedpage.Alerter{},
	}
	diffs, err := c.Run(ctx)
	for _, d := range diffs {
		fmt.Println("DIFFERENCE:", d)
	}
	if err == nil {
		fmt.Println("the page matches its released inventory")
	}
	return err
}
