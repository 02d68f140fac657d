package config

// User pool settings. In AWS the pool is JWT_ISSUER itself; locally the emulator's pool is a second
// issuer beside the local signing key.
const (
	// EnvUserPoolID and EnvUserPoolClientID name the pool the users function administers and the
	// app client whose tokens the API takes (the audience of ID tokens).
	EnvUserPoolID       = "USER_POOL_ID"
	EnvUserPoolClientID = "USER_POOL_CLIENT_ID"
	// EnvPoolIssuer and EnvPoolJWKSURL add the pool as a second trusted issuer (the local stack sets
	// them for the emulator's pool; its JWKS is served over plain http on a loopback address).
	EnvPoolIssuer  = "POOL_JWT_ISSUER"
	EnvPoolJWKSURL = "POOL_JWKS_URL"
)
