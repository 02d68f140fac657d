package devstack

import (
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/local/provision"
)

// poolEnv is the environment that makes the functions use the emulator's user pool: the users
// function administers it and the authorizer trusts its JWKS. The pool is listed as an MFA-proving
// issuer only when the pool itself reported MFA required for every user after provisioning, the same
// proof the template tests give for the deployed pool: the emulator's tokens carry no amr.
func poolEnv(p provision.Pool) map[string]string {
	env := map[string]string{
		config.EnvUserPoolID:       p.ID,
		config.EnvUserPoolClientID: p.ClientID,
		config.EnvPoolIssuer:       p.Issuer,
		config.EnvPoolJWKSURL:      p.JWKSURL,
	}
	if p.MFARequired {
		env[config.EnvMFAPoolIssuers] = p.Issuer
	}
	return env
}
