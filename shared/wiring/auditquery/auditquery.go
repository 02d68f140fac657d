// Package auditquery wires the audit-query function: it reads the audit table only.
package auditquery

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/auditquery"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	return wiring.HTTP(routes.AuditQuery, Register)(env)
}

// Register adds the routes over the audit table.
func Register(env wiring.Env, svc *endpoint.Service) error {
	auditquery.Routes(svc, &auditquery.Store{DB: dynamodb.NewFromConfig(env.AWS), Table: env.Config.AuditTable})
	return nil
}
