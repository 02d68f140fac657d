package stacktest

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"
)

// RefuseDisabledKeys returns a copy of cfg whose KMS calls fail as AWS KMS fails them when a key they
// use is disabled (DisabledException) or pending deletion (KMSInvalidStateException). moto records
// DisableKey in the key's state but keeps using the key; tests of what a disabled key breaks wrap the
// functions' configuration with this. The key a call used is the one KMS names in its answer
// (KeyId, and SourceKeyId for ReEncrypt), so a Decrypt that names no key is checked too.
func RefuseDisabledKeys(cfg aws.Config) aws.Config {
	describe := kms.NewFromConfig(cfg)
	cfg = cfg.Copy()
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("refuseDisabledKeys",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if err != nil || awsmiddleware.GetServiceID(ctx) != "KMS" {
					return out, md, err
				}
				var used []*string
				switch r := out.Result.(type) {
				case *kms.DecryptOutput:
					used = []*string{r.KeyId}
				case *kms.EncryptOutput:
					used = []*string{r.KeyId}
				case *kms.GenerateDataKeyOutput:
					used = []*string{r.KeyId}
				case *kms.GenerateDataKeyWithoutPlaintextOutput:
					used = []*string{r.KeyId}
				case *kms.ReEncryptOutput:
					used = []*string{r.SourceKeyId, r.KeyId}
				case *kms.SignOutput:
					used = []*string{r.KeyId}
				}
				for _, id := range used {
					if id == nil {
						continue
					}
					d, derr := describe.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
					if derr != nil {
						return middleware.InitializeOutput{}, md, derr
					}
					switch d.KeyMetadata.KeyState {
					case ktypes.KeyStateEnabled:
					case ktypes.KeyStateDisabled:
						msg := fmt.Sprintf("%s is disabled.", aws.ToString(id))
						return middleware.InitializeOutput{}, md, &ktypes.DisabledException{Message: &msg}
					default:
						msg := fmt.Sprintf("%s is %s.", aws.ToString(id), d.KeyMetadata.KeyState)
						return middleware.InitializeOutput{}, md, &ktypes.KMSInvalidStateException{Message: &msg}
					}
				}
				return out, md, err
			}), middleware.After)
	})
	return cfg
}
