// Package wafaudit wires the waf-audit function: the audit table is all it writes.
package wafaudit

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/handlers/wafaudit"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	a, err := New(env)
	return wiring.Handler{Func: a.Handle}, err
}

// New makes the function's Auditor.
func New(env wiring.Env) (*wafaudit.Auditor, error) {
	c := env.Config
	if err := c.Require(config.EnvAuditTable); err != nil {
		return nil, err
	}
	return &wafaudit.Auditor{
		Audit:   wiring.Audit(env, dynamodb.NewFromConfig(env.AWS)),
		Account: c.Account, Region: c.Region, Log: env.Log,
	}, nil
}
