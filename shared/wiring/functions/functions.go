// Package functions lists every function's wiring by its name in the function table
// (infra/stacks.Functions). The CLI's invoke and the local stack build functions from it, with the same
// code their Lambdas' mains run. No function links it: each main imports its own wiring only.
package functions

import (
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/auditquery"
	"github.com/vaultbill/vaultbill/shared/wiring/audittrail"
	"github.com/vaultbill/vaultbill/shared/wiring/authorizer"
	"github.com/vaultbill/vaultbill/shared/wiring/backup"
	"github.com/vaultbill/vaultbill/shared/wiring/creditnotes"
	"github.com/vaultbill/vaultbill/shared/wiring/datarights"
	"github.com/vaultbill/vaultbill/shared/wiring/hostedpage"
	"github.com/vaultbill/vaultbill/shared/wiring/invoices"
	"github.com/vaultbill/vaultbill/shared/wiring/me"
	"github.com/vaultbill/vaultbill/shared/wiring/payments"
	"github.com/vaultbill/vaultbill/shared/wiring/tokens"
	"github.com/vaultbill/vaultbill/shared/wiring/users"
	"github.com/vaultbill/vaultbill/shared/wiring/wafaudit"
)

// APIs are the HTTP functions' routes by routes.Function name: the local gateway serves them.
var APIs = map[string]wiring.Register{
	routes.Me:          me.Register,
	routes.AuditQuery:  auditquery.Register,
	routes.Invoices:    invoices.Register,
	routes.Tokens:      tokens.Register,
	routes.Payments:    payments.Register,
	routes.CreditNotes: creditnotes.Register,
	routes.Users:       users.Register,
	routes.HostedPage:  hostedpage.Register,
	routes.DataRights:  datarights.Register,
}

// Builds is every function's cold start by its name.
var Builds = map[string]wiring.Build{
	"authorizer":           authorizer.Build,
	audittrail.ShipperName: audittrail.BuildShipper,
	audittrail.DigestName:  audittrail.BuildDigest,
	"waf-audit":            wafaudit.Build,
	"page-check":           hostedpage.BuildCheck,
	"backup":               backup.Build,
	"restore-test":         backup.BuildRestoreTest,
}

// An HTTP function's cold start is the runtime with its routes.
func init() {
	for name, register := range APIs {
		Builds[name] = wiring.HTTP(name, register)
	}
}
