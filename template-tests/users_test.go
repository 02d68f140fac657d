package templatetests

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/adapters/sessions"
	"github.com/vaultbill/vaultbill/shared/adapters/userpool"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// TestUsersPoolGrantNamesOnlyThePool: the users function's only user pool statement allows exactly
// the actions shared/adapters/userpool calls, on the pool's ARN, and no other function has any cognito-idp
// action.
func TestUsersPoolGrantNamesOnlyThePool(t *testing.T) {
	for _, f := range stacks.Functions {
		_, statements := policyOf(t, f.Name)
		var pool []any
		for _, s := range statements {
			if strings.Contains(jsonOf(cfn.Get(s, "Action")), "cognito-idp:") {
				pool = append(pool, s)
			}
		}
		if f.Name != routes.Users {
			if len(pool) > 0 {
				t.Errorf("%s has user pool actions: %s", f.Name, jsonOf(pool))
			}
			continue
		}
		if len(pool) != 1 {
			t.Fatalf("users has %d user pool statements; want 1: %s", len(pool), jsonOf(pool))
		}
		s := pool[0]
		var got []string
		for _, a := range cfn.List(cfn.Get(s, "Action")) {
			got = append(got, a.(string))
		}
		if d := cmp.Diff(userpool.AdminActions, got, sortStrings); d != "" {
			t.Errorf("users pool actions (-code +template):\n%s", d)
		}
		if res := jsonOf(cfn.Get(s, "Resource")); !strings.Contains(res, stacks.UserPoolID) || strings.Contains(res, "*") {
			t.Errorf("users pool statement names %s; want the user pool's ARN only", res)
		}
		if c := cfn.Get(s, "Condition"); c != nil {
			t.Errorf("unexpected condition %s", jsonOf(c))
		}
	}
}

// TestSessionEpochsOnlyUnderTheirPrefix: the authorizer reads, and the users function writes, only the
// billing table's SESSION# items (the session epochs); the authorizer reads nothing else of it.
func TestSessionEpochsOnlyUnderTheirPrefix(t *testing.T) {
	cond := `{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["` + sessions.KeyPrefix + `*"]}}`
	for name, action := range map[string]string{"authorizer": "dynamodb:GetItem", routes.Users: "dynamodb:UpdateItem"} {
		_, statements := policyOf(t, name)
		found := false
		for _, s := range statements {
			res, actions := jsonOf(cfn.Get(s, "Resource")), jsonOf(cfn.Get(s, "Action"))
			if !strings.Contains(res, "BillingTable") || !strings.Contains(actions, action) {
				continue
			}
			found = true
			if jsonOf(cfn.Get(s, "Condition")) != cond {
				t.Errorf("%s: %s on the billing table outside %s items: %s", name, action, sessions.KeyPrefix, jsonOf(s))
			}
		}
		if !found {
			t.Errorf("%s has no %s on the billing table's session epochs", name, action)
		}
	}
}

// TestRevocationBound: API Gateway reuses an authorizer answer for at most AuthorizerCacheSeconds; as
// the authorizer reads the session epoch at every invocation, that is how late a revocation can act,
// and it must stay within DESIGN §4's 60 seconds.
func TestRevocationBound(t *testing.T) {
	ids := api().ofType("AWS::ApiGateway::Authorizer")
	if len(ids) != 1 {
		t.Fatalf("authorizers: %v", ids)
	}
	ttl, _ := api().Resources[ids[0]].Properties["AuthorizerResultTtlInSeconds"].(float64)
	if ttl > stacks.RevocationBound || ttl != stacks.AuthorizerCacheSeconds {
		t.Errorf("authorizer result TTL %v s; want %d s, within the %d s revocation bound", ttl, stacks.AuthorizerCacheSeconds, stacks.RevocationBound)
	}
}

// TestPoolMatchesTheSharedDefinition: the deployed pool has the settings of resources.Users, which
// the local stack provisions on the emulator too.
func TestPoolMatchesTheSharedDefinition(t *testing.T) {
	def := resources.Users
	p := doc[stacks.DataStackName].Resources[stacks.UserPoolID].Properties
	pp := cfn.Get(p, "Policies", "PasswordPolicy")
	want := map[string]any{
		"MinimumLength": float64(def.PasswordMinLength), "RequireLowercase": def.RequireLowercase,
		"RequireUppercase": def.RequireUppercase, "RequireNumbers": def.RequireDigits, "RequireSymbols": def.RequireSymbols,
		"TemporaryPasswordValidityDays": float64(def.TempPasswordValidityDays),
	}
	for k, v := range want {
		if got := cfn.Get(pp, k); got != v {
			t.Errorf("PasswordPolicy.%s = %v; want %v", k, got, v)
		}
	}
	if (p["MfaConfiguration"] == "ON") != def.MFARequired {
		t.Errorf("MfaConfiguration = %v; definition MFARequired = %v", p["MfaConfiguration"], def.MFARequired)
	}
	if stacks.CustomerIDAttribute != def.CustomerIDAttribute {
		t.Errorf("custom attribute %q; definition %q", stacks.CustomerIDAttribute, def.CustomerIDAttribute)
	}
	found := false
	for _, a := range cfn.List(p["Schema"]) {
		if cfn.Get(a, "Name") == def.CustomerIDAttribute {
			found = cfn.Get(a, "Mutable") == false
		}
	}
	if !found {
		t.Errorf("no immutable %s attribute in %s", def.CustomerIDAttribute, jsonOf(p["Schema"]))
	}
}
