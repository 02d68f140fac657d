// Package s3client builds S3 clients from the shared AWS configuration. It is separate from awsconfig
// so that functions that never touch S3 do not carry the S3 client in their binaries.
package s3client

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// New builds an S3 client. Emulators are addressed by IP and port, where virtual-hosted bucket names
// cannot resolve, so path-style addressing is used whenever an endpoint is configured.
func New(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL") != ""
	})
}
