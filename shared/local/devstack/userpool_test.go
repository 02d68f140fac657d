package devstack

import (
	"testing"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/local/provision"
)

// TestPoolProvesMFAOnlyWhenVerified: the emulator's pool is an MFA-proving issuer only when the pool
// itself reported MFA required after provisioning; otherwise its tokens must prove MFA by amr, which
// the emulator never issues, so they are refused.
func TestPoolProvesMFAOnlyWhenVerified(t *testing.T) {
	p := provision.Pool{ID: "us-east-1_x", ClientID: "c", Issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
		JWKSURL: "http://127.0.0.1:1/us-east-1_x/.well-known/jwks.json"}
	if got, ok := poolEnv(p)[config.EnvMFAPoolIssuers]; ok {
		t.Errorf("pool without verified MFA listed as MFA-proving: %q", got)
	}
	p.MFARequired = true
	if got := poolEnv(p)[config.EnvMFAPoolIssuers]; got != p.Issuer {
		t.Errorf("MFA_POOL_ISSUERS = %q; want %q", got, p.Issuer)
	}
}
