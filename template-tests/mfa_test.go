package templatetests

import (
	"strings"
	"testing"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// TestPoolRequiresMFA pins what lets the authorizer take the pool's tokens as MFA-proven without an
// amr claim (DESIGN §4): MFA is ON (required of every user, TOTP), no remembered device can stand in
// for the second factor, and no sign-in flow lets a Lambda trigger or a passwordless factor decide
// instead of Cognito's MFA.
func TestPoolRequiresMFA(t *testing.T) {
	data := doc[stacks.DataStackName]
	if ids := data.ofType("AWS::Cognito::UserPool"); len(ids) != 1 || ids[0] != stacks.UserPoolID {
		t.Fatalf("user pools %v; want exactly %s", ids, stacks.UserPoolID)
	}
	p := data.Resources[stacks.UserPoolID].Properties
	if p["MfaConfiguration"] != "ON" {
		t.Errorf("MfaConfiguration = %v; want ON (OPTIONAL lets users sign in without a second factor)", p["MfaConfiguration"])
	}
	if got := jsonOf(p["EnabledMfas"]); got != `["SOFTWARE_TOKEN_MFA"]` {
		t.Errorf("EnabledMfas = %s; want TOTP only", got)
	}
	// Any DeviceConfiguration turns device remembering on; with ChallengeRequiredOnNewDevice a
	// remembered device signs in with device authentication instead of the second factor.
	if dc, ok := p["DeviceConfiguration"]; ok {
		t.Errorf("DeviceConfiguration = %s; device remembering must stay off", jsonOf(dc))
	}
	// A custom auth challenge trigger decides sign-in itself; Cognito's MFA does not apply to it.
	for _, trigger := range []string{"DefineAuthChallenge", "CreateAuthChallenge", "VerifyAuthChallengeResponse"} {
		if v := cfn.Get(p, "LambdaConfig", trigger); v != nil {
			t.Errorf("LambdaConfig.%s is set; custom authentication bypasses the pool's MFA", trigger)
		}
	}
	if got := jsonOf(cfn.Get(p, "Policies", "SignInPolicy")); strings.Contains(got, "WEB_AUTHN") || strings.Contains(got, "OTP") {
		t.Errorf("SignInPolicy %s allows a passwordless first factor", got)
	}
	clients := data.ofType("AWS::Cognito::UserPoolClient")
	if len(clients) == 0 {
		t.Fatal("no app client")
	}
	for _, id := range clients {
		for _, flow := range cfn.List(data.Resources[id].Properties["ExplicitAuthFlows"]) {
			if f := flow.(string); f == "ALLOW_CUSTOM_AUTH" || f == "CUSTOM_AUTH_FLOW_ONLY" || f == "ALLOW_USER_AUTH" {
				t.Errorf("app client %s allows %s; only flows that end in the pool's MFA challenge may be enabled", id, f)
			}
		}
	}
}

// TestMFAPoolIssuerIsThePool: the authorizer's MFA_POOL_ISSUERS names exactly this pool's issuer (the
// same value as JWT_ISSUER, the pool's provider URL). TestFunctionEnvironments keeps it off every other
// function.
func TestMFAPoolIssuerIsThePool(t *testing.T) {
	_, fn := function(t, "authorizer")
	env := cfn.Get(fn.Properties, "Environment", "Variables").(map[string]any)
	got, want := text(env[config.EnvMFAPoolIssuers]), text(env[config.EnvJWTIssuer])
	if got != want || got != "<"+stacks.UserPoolID+"ProviderURL>" {
		t.Errorf("authorizer %s = %s; want exactly the pool's issuer %s (JWT_ISSUER %s)",
			config.EnvMFAPoolIssuers, got, "<"+stacks.UserPoolID+"ProviderURL>", want)
	}
}
