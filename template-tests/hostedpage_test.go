package templatetests

import (
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// TestHostedPageRoutesAreOpenAndNothingElseIs: the hosted invoice page's routes (under /pay/) are
// served without the authorizer (the link is checked by the functions), and they are the only ones.
func TestHostedPageRoutesAreOpenAndNothingElseIs(t *testing.T) {
	paths := resourcePaths()
	open := 0
	for _, id := range api().ofType("AWS::ApiGateway::Method") {
		p := api().Resources[id].Properties
		key := p["HttpMethod"].(string) + " " + paths[cfn.Get(p, "ResourceId", "Ref").(string)]
		r, ok := routes.Lookup(p["HttpMethod"].(string), paths[cfn.Get(p, "ResourceId", "Ref").(string)])
		if !ok {
			t.Errorf("%s is not in the route table", key)
			continue
		}
		switch {
		case r.CapabilityChecked() && p["AuthorizationType"] == "NONE" && p["AuthorizerId"] == nil:
			open++
		case r.CapabilityChecked():
			t.Errorf("%s: AuthorizationType %v; the hosted page's routes take a link, not a token", key, p["AuthorizationType"])
		case p["AuthorizationType"] != "CUSTOM":
			t.Errorf("%s: AuthorizationType %v outside /pay/", key, p["AuthorizationType"])
		}
	}
	want := 0
	for _, r := range routes.All {
		if r.CapabilityChecked() {
			want++
			if !strings.HasPrefix(r.Path, routes.LinkPrefix) {
				t.Errorf("%s is open but not under %s", r.Key(), routes.LinkPrefix)
			}
		}
	}
	if open != want || want == 0 {
		t.Errorf("%d methods without the authorizer, want the %d hosted page routes", open, want)
	}
}

// TestHostedPageFunctionPutsOnlyLinks: the hosted-page function reads the billing table and may put
// LINK# items there and nothing else; it reaches neither the vault nor its key.
func TestHostedPageFunctionPutsOnlyLinks(t *testing.T) {
	_, statements := policyOf(t, routes.HostedPage)
	found := false
	for _, s := range statements {
		res, actions := jsonOf(cfn.Get(s, "Resource")), jsonOf(cfn.Get(s, "Action"))
		if strings.Contains(res, "VaultTable") || strings.Contains(res, "VaultKey") {
			t.Errorf("hosted-page reaches the vault: %s", jsonOf(s))
		}
		if !strings.Contains(res, "BillingTable") {
			continue
		}
		for _, write := range []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} {
			if !strings.Contains(actions, write) {
				continue
			}
			cond := jsonOf(cfn.Get(s, "Condition"))
			switch {
			case write == "dynamodb:PutItem" && cond == `{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["LINK#*"]}}`:
				found = true
			case cond == `{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["IDEM#*"]}}`:
				// idempotency records, as every API function
			default:
				t.Errorf("hosted-page writes the billing table beyond links: %s", jsonOf(s))
			}
		}
	}
	if !found {
		t.Error("hosted-page cannot put its links (dynamodb:PutItem on LINK# in the billing table)")
	}
}
