// Command page-check runs on a weekly EventBridge schedule (and on demand: vaultbill page check): it
// fetches the live hosted invoice page and alerts when its security headers, scripts or styles differ
// from the inventory it was released with (PCI DSS 11.6.1).
package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/hostedpage"
)

func main() {
	wiring.Run(func(env wiring.Env) (any, error) {
		url := env.Config.Lookup(hostedpage.EnvCheckURL)
		if url == "" {
			return nil, fmt.Errorf("%s is not set", hostedpage.EnvCheckURL)
		}
		c := &hostedpage.Checker{
			Client: &http.Client{Timeout: 20 * time.Second}, URL: url, Log: env.Log,
			Alert: &hostedpage.Alerter{Metrics: env.Metrics},
		}
		return func(ctx context.Context) error { _, err := c.Run(ctx); return err }, nil
	})
}
