package templatetests

import (
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// TestCardAttemptCountersOnlyUnderTheirPrefix: the tokens function, which otherwise only reads the
// billing table, may update its RATE# counter items and nothing else there.
func TestCardAttemptCountersOnlyUnderTheirPrefix(t *testing.T) {
	_, statements := policyOf(t, routes.Tokens)
	found := false
	for _, s := range statements {
		res, actions := jsonOf(cfn.Get(s, "Resource")), jsonOf(cfn.Get(s, "Action"))
		if !strings.Contains(res, "BillingTable") || !strings.Contains(actions, "dynamodb:UpdateItem") {
			continue
		}
		if cond := jsonOf(cfn.Get(s, "Condition")); cond != `{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["RATE#*"]}}` {
			t.Errorf("tokens updates the billing table outside RATE# counters: %s", jsonOf(s))
			continue
		}
		found = true
	}
	if !found {
		t.Error("tokens cannot update its card-attempt counters (dynamodb:UpdateItem on RATE# in the billing table)")
	}
}
