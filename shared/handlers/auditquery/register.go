package auditquery

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
)

// Register wires the audit-query function from its environment: it reads the audit table only.
func Register(env wiring.Env, svc *endpoint.Service) error {
	Routes(svc, &Store{DB: dynamodb.NewFromConfig(env.AWS), Table: env.Config.AuditTable})
	return nil
}
