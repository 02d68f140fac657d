// Package config reads a function's configuration from its environment, once, at cold start.
package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Environment variable names. The CDK app sets them in AWS; the local stack sets them from the same
// resource definitions.
const (
	EnvBillingTable    = "BILLING_TABLE"
	EnvVaultTable      = "VAULT_TABLE"
	EnvAuditTable      = "AUDIT_TABLE"
	EnvDataKey         = "DATA_KEY_ID"
	EnvVaultKey        = "VAULT_KEY_ID"
	EnvAuditSigningKey = "AUDIT_SIGNING_KEY_ID"
	EnvBackupKey       = "BACKUP_KEY_ID"
	EnvAuditBucket     = "AUDIT_BUCKET"
	EnvBackupBucket    = "BACKUP_BUCKET"
	EnvJWTIssuer       = "JWT_ISSUER"
	EnvJWTAudience     = "JWT_AUDIENCE"
	// EnvJWKSURL is the issuer's JWKS endpoint (Cognito in AWS); EnvJWKSFile a local JWKS file.
	EnvJWKSURL  = "JWKS_URL"
	EnvJWKSFile = "JWKS_FILE"
	EnvAccount  = "AWS_ACCOUNT_ID"
	// EnvBackupRetentionDays is how many days backups are kept (default 35).
	EnvBackupRetentionDays = "BACKUP_RETENTION_DAYS"
	EnvRegion              = "AWS_REGION"
	// EnvMFAPoolIssuers lists (comma-separated) the token issuers that are user pools requiring MFA
	// of every user, so their tokens prove MFA without an amr claim. The CDK app sets it to its own
	// pool only; locally it is unset and tokens prove MFA by amr.
	EnvMFAPoolIssuers = "MFA_POOL_ISSUERS"
	// EnvCardAttemptLimit and EnvCardAttemptWindow set the card-attempt limit of the tokenize and pay
	// routes, per principal and per customer (default 30 per 10m; shared/adapters/ratelimit).
	EnvCardAttemptLimit  = "CARD_ATTEMPT_LIMIT"
	EnvCardAttemptWindow = "CARD_ATTEMPT_WINDOW"
)

// Config is everything any function may need; each main requires only its own part.
type Config struct {
	BillingTable, VaultTable, AuditTable                  string
	DataKeyID, VaultKeyID, AuditSigningKeyID, BackupKeyID string
	AuditBucket, BackupBucket                             string
	JWTIssuer, JWTAudience, JWKSURL, JWKSFile             string
	Account, Region                                       string
	// BackupRetentionDays is the raw BACKUP_RETENTION_DAYS ("" for the default).
	BackupRetentionDays string
	lookup              func(string) string
}

// FromEnv reads the configuration from the process environment.
func FromEnv() Config { return From(os.Getenv) }

// From reads the configuration through lookup (os.Getenv, or a map in tests).
func From(lookup func(string) string) Config {
	c := Config{
		BillingTable: lookup(EnvBillingTable), VaultTable: lookup(EnvVaultTable), AuditTable: lookup(EnvAuditTable),
		DataKeyID: lookup(EnvDataKey), VaultKeyID: lookup(EnvVaultKey),
		AuditSigningKeyID: lookup(EnvAuditSigningKey), BackupKeyID: lookup(EnvBackupKey),
		AuditBucket: lookup(EnvAuditBucket), BackupBucket: lookup(EnvBackupBucket),
		JWTIssuer: lookup(EnvJWTIssuer), JWTAudience: lookup(EnvJWTAudience),
		JWKSURL: lookup(EnvJWKSURL), JWKSFile: lookup(EnvJWKSFile),
		Account: lookup(EnvAccount), Region: lookup(EnvRegion),
		BackupRetentionDays: lookup(EnvBackupRetentionDays),
		lookup:              lookup,
	}
	if c.Account == "" {
		c.Account = "000000000000"
	}
	return c
}

// Require returns an error naming every listed variable that is empty, so a misconfigured function
// fails at cold start with one clear message instead of on its first request.
func (c Config) Require(names ...string) error {
	var missing []string
	for _, n := range names {
		if c.lookup == nil || c.lookup(n) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing configuration: set %s in the function's environment", strings.Join(missing, ", "))
	}
	return nil
}

// Lookup returns the raw value of an environment variable the Config was read from, for settings
// that belong to one package (such as alert thresholds).
func (c Config) Lookup(name string) string {
	if c.lookup == nil {
		return ""
	}
	return c.lookup(name)
}

// Local is the environment of a local stack: its names, from the resource definitions.
func Local(n resources.Names, issuer, jwksFile string) map[string]string {
	return map[string]string{
		EnvBillingTable:    n.Table(resources.Billing.ID),
		EnvVaultTable:      n.Table(resources.Vault.ID),
		EnvAuditTable:      n.Table(resources.Audit.ID),
		EnvDataKey:         n.KeyAlias(resources.DataKey),
		EnvVaultKey:        n.KeyAlias(resources.VaultKey),
		EnvAuditSigningKey: n.KeyAlias(resources.AuditSigningKey),
		EnvBackupKey:       n.KeyAlias(resources.BackupKey),
		EnvAuditBucket:     n.Bucket(resources.AuditBucket),
		EnvBackupBucket:    n.Bucket(resources.BackupBucket),
		EnvJWTIssuer:       issuer,
		EnvJWTAudience:     LocalAudience,
		EnvJWKSFile:        jwksFile,
	}
}

// LocalAudience is the audience of locally minted tokens.
const LocalAudience = "vaultbill-local"
