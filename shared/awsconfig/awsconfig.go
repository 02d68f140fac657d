// Package awsconfig builds the one aws.Config every SDK client in Vaultbill is made from.
package awsconfig

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultRegion is used when neither AWS_REGION nor AWS_DEFAULT_REGION is set (the local stack).
const DefaultRegion = "us-east-1"

// Load reads region and credentials from the environment as the SDK always does. AWS_ENDPOINT_URL,
// when set, sends every client to that endpoint (moto or LocalStack); the SDK honours it natively,
// so nothing else differs between local and AWS.
func Load(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion(DefaultRegion))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// S3 builds an S3 client. Emulators are addressed by IP and port, where virtual-hosted bucket names
// cannot resolve, so path-style addressing is used whenever an endpoint is configured.
func S3(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL") != ""
	})
}
