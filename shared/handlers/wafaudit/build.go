package wafaudit

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
)

// Build makes the function's Auditor from its configuration: the audit table is all it writes.
func Build(env wiring.Env) (*Auditor, error) {
	c := env.Config
	if err := c.Require(config.EnvAuditTable); err != nil {
		return nil, err
	}
	return &Auditor{
		Audit:   &audit.Store{DB: dynamodb.NewFromConfig(env.AWS), Table: c.AuditTable, Alert: &audit.Alerter{Log: env.Log, Metrics: env.Metrics}},
		Account: c.Account, Region: c.Region, Log: env.Log,
	}, nil
}
