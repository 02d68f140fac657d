// Package workstation builds the aws.Config of the CLI and the local stack on a person's machine,
// through the SDK's full default chain (environment, profiles, SSO). It is apart from awsconfig so
// that no function links that chain: importing a package runs its dependencies' init at every cold
// start (the SSO, OIDC, STS and sign-in clients' endpoint tables and schemas).
package workstation

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/vaultbill/vaultbill/shared/adapters/awsconfig"
)

// Load builds the configuration through the SDK's full default chain, in awsconfig.DefaultRegion
// unless the environment names a region. AWS_ENDPOINT_URL is honoured by the SDK.
func Load(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion(awsconfig.DefaultRegion))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}
