// Package stacks is Vaultbill's AWS infrastructure as CDK constructs: the retained data stack (keys,
// tables, buckets, backups, user pool), the API stack (functions, REST API, WAF, alarms, schedules),
// the offsite backup stack, and the compliance checks (cdk-nag) applied to all of them.
package stacks

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// AppProps configures the whole application. Only the app's main reads the environment; everything
// below it is configured through these props.
type AppProps struct {
	// Account and Region place the data and API stacks ("" leaves them environment-agnostic).
	Account, Region string
	// OffsiteRegion receives the cross-region backup copies; it must differ from Region.
	OffsiteRegion string
	// BuildDir holds build/<function>/bootstrap for every row of Functions.
	BuildDir string
	// AlarmEmail, DomainName and CertificateARN are optional (see APIStackProps).
	AlarmEmail, DomainName, CertificateARN string
	// AuditRetentionDays overrides the audit bucket's Object Lock retention (default 365).
	AuditRetentionDays int
	// Stage is StageTest or StageProduction ("" is DefaultStage, production). PaymentProcessor is the
	// payments function's card processor ("" is the sandbox, which only a test stage may use).
	Stage, PaymentProcessor string
	// KeyAdminARN is the principal that administers the KMS keys (and never uses them); "" is the
	// account root, i.e. whoever IAM allows. It must include whoever deploys (see keys.go).
	KeyAdminARN string
}

// Stack names. They are the only fixed names: CloudFormation names every resource inside them.
const (
	DataStackName    = "vaultbill-data"
	APIStackName     = "vaultbill-api"
	OffsiteStackName = "vaultbill-offsite"
)

// Stacks are the stacks of one app.
type Stacks struct {
	Data    *DataStack
	API     *APIStack
	Offsite *OffsiteStack
}

// Build adds every stack to app and applies the compliance checks. The app's main and the template
// tests both call it, so the tests check exactly what is deployed.
func Build(app awscdk.App, p AppProps) (Stacks, error) {
	if p.OffsiteRegion == "" || p.OffsiteRegion == p.Region {
		return Stacks{}, fmt.Errorf("offsite region %q: backups must be copied to a region other than %q; set VAULTBILL_OFFSITE_REGION or -c offsiteRegion=...", p.OffsiteRegion, p.Region)
	}
	if p.Stage == "" {
		p.Stage = DefaultStage
	}
	if p.PaymentProcessor == "" {
		p.PaymentProcessor = DefaultPaymentProcessor
	}
	if err := checkStage(p.Stage, p.PaymentProcessor); err != nil {
		return Stacks{}, err
	}
	if missing := MissingBuilds(p.BuildDir); len(missing) > 0 {
		return Stacks{}, fmt.Errorf("no bootstrap for %v in %s: run `make build` first", missing, p.BuildDir)
	}
	if p.AuditRetentionDays == 0 {
		p.AuditRetentionDays = 365
	}
	env := &awscdk.Environment{}
	if p.Account != "" {
		env.Account = jsii.String(p.Account)
	}
	if p.Region != "" {
		env.Region = jsii.String(p.Region)
	}
	offEnv := &awscdk.Environment{Account: env.Account, Region: jsii.String(p.OffsiteRegion)}

	offsite := NewOffsiteStack(app, "VaultbillOffsite", &OffsiteStackProps{
		StackProps: awscdk.StackProps{
			StackName: jsii.String(OffsiteStackName), Env: offEnv,
			Description: jsii.String("Vaultbill offsite backup vault (cross-region copies)"),
		},
		VaultName:        OffsiteStackName + "-vault",
		MinRetentionDays: 7,
		KeyAdminARN:      p.KeyAdminARN,
	})
	offsiteARN := fmt.Sprintf("arn:%s:backup:%s:%s:backup-vault:%s",
		*awscdk.Aws_PARTITION(), p.OffsiteRegion, *awscdk.Aws_ACCOUNT_ID(), OffsiteStackName+"-vault")
	data := NewDataStack(app, "VaultbillData", &DataStackProps{
		StackProps: awscdk.StackProps{
			StackName: jsii.String(DataStackName), Env: env,
			Description: jsii.String("Vaultbill stateful resources: keys, tables, buckets, backups, user pool (retained)"),
		},
		AuditRetentionDays:   p.AuditRetentionDays,
		ArchiveAfterDays:     90,
		PITRDays:             35,
		BackupRetentionDays:  35,
		BackupNoncurrentDays: 30,
		OffsiteRetentionDays: 365,
		OffsiteVaultARN:      jsii.String(offsiteARN),
		KeyAdminARN:          p.KeyAdminARN,
	})
	data.AddStackDependency(offsite.Stack, jsii.String("backups are copied into the offsite vault"))
	api := NewAPIStack(app, "VaultbillApi", &APIStackProps{
		StackProps: awscdk.StackProps{
			StackName: jsii.String(APIStackName), Env: env,
			Description: jsii.String("Vaultbill functions, REST API, authorizer, WAF, alarms and schedules"),
		},
		Data:                   data,
		BuildDir:               p.BuildDir,
		LogRetention:           awslogs.RetentionDays_ONE_YEAR,
		StageName:              "live",
		ThrottleRate:           100,
		ThrottleBurst:          200,
		AuthorizerCacheSeconds: AuthorizerCacheSeconds, // 0: every request reaches the authorizer, so every refusal is audited
		RateLimitPer5Min:       1000,
		DenialAlarmThreshold:   100,
		AlarmEmail:             p.AlarmEmail,
		DomainName:             p.DomainName,
		CertificateARN:         p.CertificateARN,
		Stage:                  p.Stage,
		PaymentProcessor:       p.PaymentProcessor,
	})
	s := Stacks{Data: data, API: api, Offsite: offsite}
	applyChecks(app, s)
	return s, nil
}

// FeatureFlags are the CDK feature flags the stacks rely on. The app's main and the template tests
// pass them to awscdk.NewApp, so both synthesize the same templates with or without the CLI.
func FeatureFlags() *map[string]any {
	return &map[string]any{
		// Server access logs are delivered under a bucket policy, not the legacy LogDeliveryWrite ACL.
		"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
	}
}

// MissingBuilds lists the functions of the table that have no build/<name>/bootstrap in dir.
func MissingBuilds(dir string) []string {
	var missing []string
	for _, f := range Functions {
		if _, err := os.Stat(filepath.Join(dir, f.Name, "bootstrap")); err != nil {
			missing = append(missing, f.Name)
		}
	}
	return missing
}
