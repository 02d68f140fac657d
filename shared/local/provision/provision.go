// Package provision creates the local stack's tables, keys and buckets on an emulator from the same
// definitions the CDK app deploys. Running it again changes nothing.
package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	stypes "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Stack provisions one local stack.
type Stack struct {
	DynamoDB *dynamodb.Client
	KMS      *kms.Client
	S3       *s3.Client
	Cognito  *cognitoidentityprovider.Client
	Region   string
	Names    resources.Names
	// Progress, if set, is told about each resource as it is checked.
	Progress func(kind, name string, created bool)
}

// New builds a Stack from one aws.Config.
func New(cfg aws.Config, names resources.Names) *Stack {
	return &Stack{
		DynamoDB: dynamodb.NewFromConfig(cfg),
		KMS:      kms.NewFromConfig(cfg),
		S3:       s3client.New(cfg),
		Cognito:  cognitoidentityprovider.NewFromConfig(cfg),
		Region:   cfg.Region,
		Names:    names,
	}
}

// Apply creates whatever is missing: keys first (tables and buckets are encrypted with them).
func (s *Stack) Apply(ctx context.Context) error {
	for _, k := range resources.Keys {
		if err := s.key(ctx, k); err != nil {
			return err
		}
	}
	for _, t := range resources.Tables {
		if err := s.table(ctx, t); err != nil {
			return err
		}
	}
	for _, b := range resources.Buckets {
		if err := s.bucket(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) report(kind, name string, created bool) {
	if s.Progress != nil {
		s.Progress(kind, name, created)
	}
}

func (s *Stack) key(ctx context.Context, k resources.Key) error {
	alias := s.Names.KeyAlias(k.ID)
	if _, err := s.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)}); err == nil {
		s.report("key", alias, false)
		return nil
	} else if !isCode(err, "NotFoundException") {
		return fmt.Errorf("describe key %s: %w", alias, err)
	}
	out, err := s.KMS.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:     ktypes.KeySpec(k.Spec),
		KeyUsage:    ktypes.KeyUsageType(k.Usage),
		Description: aws.String("Vaultbill " + k.ID + ": " + k.Purpose),
	})
	if err != nil {
		return fmt.Errorf("create key %s: %w", alias, err)
	}
	// AlreadyExists here means the answer to our own create was lost and the SDK's retry met it (the
	// alias did not exist a moment ago); the alias names the key just created either way.
	if _, err := s.KMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil && !isCode(err, "AlreadyExistsException") {
		return fmt.Errorf("create alias %s: %w", alias, err)
	}
	if k.Usage == string(ktypes.KeyUsageTypeEncryptDecrypt) && k.Spec == string(ktypes.KeySpecSymmetricDefault) {
		if _, err := s.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: out.KeyMetadata.KeyId}); err != nil {
			return fmt.Errorf("enable rotation of %s: %w", alias, err)
		}
	}
	s.report("key", alias, true)
	return nil
}

func (s *Stack) table(ctx context.Context, t resources.Table) error {
	name := s.Names.Table(t.ID)
	if _, err := s.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err == nil {
		s.report("table", name, false)
		return nil
	} else if !isCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("describe table %s: %w", name, err)
	}
	// ResourceInUse means the table appeared since DescribeTable: the answer to our own create was lost
	// and the SDK's retry met it, or another provisioner won. Either way it is waited for below.
	if _, err := s.DynamoDB.CreateTable(ctx, backup.CreateTableInput(t, name, s.Names.KeyAlias(t.KeyID))); err != nil && !isCode(err, "ResourceInUseException") {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(s.DynamoDB).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	if t.TTLAttribute != "" {
		if _, err := s.DynamoDB.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               aws.String(name),
			TimeToLiveSpecification: &dtypes.TimeToLiveSpecification{AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true)},
		}); err != nil {
			return fmt.Errorf("enable TTL on %s: %w", name, err)
		}
	}
	s.report("table", name, true)
	return nil
}

func (s *Stack) bucket(ctx context.Context, b resources.Bucket) error {
	name := s.Names.Bucket(b.ID)
	if _, err := s.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)}); err == nil {
		s.report("bucket", name, false)
		return nil
	}
	if _, err := s.S3.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(b.ObjectLock),
	}); err != nil && !isCode(err, "BucketAlreadyOwnedByYou") {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	if _, err := s.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket: aws.String(name), VersioningConfiguration: &stypes.VersioningConfiguration{Status: stypes.BucketVersioningStatusEnabled},
	}); err != nil {
		return fmt.Errorf("enable versioning on %s: %w", name, err)
	}
	if b.KeyID != "" {
		if _, err := s.S3.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
			Bucket: aws.String(name),
			ServerSideEncryptionConfiguration: &stypes.ServerSideEncryptionConfiguration{Rules: []stypes.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &stypes.ServerSideEncryptionByDefault{
					SSEAlgorithm: stypes.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(s.Names.KeyAlias(b.KeyID)),
				},
				BucketKeyEnabled: aws.Bool(true),
			}}},
		}); err != nil {
			return fmt.Errorf("set encryption on %s: %w", name, err)
		}
	}
	s.report("bucket", name, true)
	return nil
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
