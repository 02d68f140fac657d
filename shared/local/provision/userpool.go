package provision

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ctypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Pool is the provisioned user pool and the app client the local stack signs in with.
type Pool struct {
	ID, ClientID string
	// Issuer is the iss of the pool's tokens, JWKSURL where its signing keys are served.
	Issuer, JWKSURL string
	// MFARequired is the pool's MFA setting as read back from the pool after provisioning (not as
	// requested): only a pool that reports MFA ON may be trusted to prove MFA by issuer.
	MFARequired bool
}

// localClientName names the app client of the local pool. It allows USER_PASSWORD_AUTH so that
// `vaultbill login` needs no SRP implementation against the emulator; the deployed client allows SRP only.
const localClientName = "vaultbill-local"

// UserPool creates (or finds) the local user pool with the settings of resources.Users, its groups
// (one per role) and the local app client, and reads the MFA setting back.
func (s *Stack) UserPool(ctx context.Context, endpoint string) (Pool, error) {
	def := resources.Users
	name := s.Names.UserPool()
	id, err := s.findPool(ctx, name)
	if err != nil {
		return Pool{}, err
	}
	if id == "" {
		out, err := s.Cognito.CreateUserPool(ctx, createPoolInput(def, name))
		if err != nil {
			return Pool{}, fmt.Errorf("create user pool %s: %w", name, err)
		}
		id = aws.ToString(out.UserPool.Id)
		s.report("user pool", name, true)
	} else {
		s.report("user pool", name, false)
	}
	mfa := ctypes.UserPoolMfaTypeOff
	if def.MFARequired {
		mfa = ctypes.UserPoolMfaTypeOn
	}
	if _, err := s.Cognito.SetUserPoolMfaConfig(ctx, &cip.SetUserPoolMfaConfigInput{
		UserPoolId:                    aws.String(id),
		MfaConfiguration:              mfa,
		SoftwareTokenMfaConfiguration: &ctypes.SoftwareTokenMfaConfigType{Enabled: def.TOTPOnly || def.MFARequired},
	}); err != nil {
		return Pool{}, fmt.Errorf("set MFA of user pool %s: %w", name, err)
	}
	for i, role := range auth.Roles {
		_, err := s.Cognito.CreateGroup(ctx, &cip.CreateGroupInput{
			UserPoolId: aws.String(id), GroupName: aws.String(string(role)),
			Description: aws.String("Vaultbill role " + string(role)), Precedence: aws.Int32(int32(i)),
		})
		var exists *ctypes.GroupExistsException
		if err != nil && !errors.As(err, &exists) {
			return Pool{}, fmt.Errorf("create group %s: %w", role, err)
		}
	}
	client, err := s.poolClient(ctx, id)
	if err != nil {
		return Pool{}, err
	}
	got, err := s.Cognito.GetUserPoolMfaConfig(ctx, &cip.GetUserPoolMfaConfigInput{UserPoolId: aws.String(id)})
	if err != nil {
		return Pool{}, fmt.Errorf("read MFA of user pool %s: %w", name, err)
	}
	return Pool{
		ID: id, ClientID: client,
		Issuer:  "https://cognito-idp." + s.Region + ".amazonaws.com/" + id,
		JWKSURL: endpoint + "/" + id + "/.well-known/jwks.json",
		MFARequired: got.MfaConfiguration == ctypes.UserPoolMfaTypeOn &&
			got.SoftwareTokenMfaConfiguration != nil && got.SoftwareTokenMfaConfiguration.Enabled,
	}, nil
}

func createPoolInput(def resources.UserPool, name string) *cip.CreateUserPoolInput {
	return &cip.CreateUserPoolInput{
		PoolName:              aws.String(name),
		AdminCreateUserConfig: &ctypes.AdminCreateUserConfigType{AllowAdminCreateUserOnly: true},
		// As the deployed pool: users have their own usernames and sign in with their email as an alias.
		AliasAttributes:        []ctypes.AliasAttributeType{ctypes.AliasAttributeTypeEmail},
		AutoVerifiedAttributes: []ctypes.VerifiedAttributeType{ctypes.VerifiedAttributeTypeEmail},
		Policies: &ctypes.UserPoolPolicyType{PasswordPolicy: &ctypes.PasswordPolicyType{
			MinimumLength:                 aws.Int32(int32(def.PasswordMinLength)),
			RequireLowercase:              def.RequireLowercase,
			RequireUppercase:              def.RequireUppercase,
			RequireNumbers:                def.RequireDigits,
			RequireSymbols:                def.RequireSymbols,
			TemporaryPasswordValidityDays: int32(def.TempPasswordValidityDays),
		}},
		Schema: []ctypes.SchemaAttributeType{{
			Name: aws.String(def.CustomerIDAttribute), AttributeDataType: ctypes.AttributeDataTypeString,
			Mutable: aws.Bool(false), StringAttributeConstraints: &ctypes.StringAttributeConstraintsType{
				MinLength: aws.String("1"), MaxLength: aws.String(strconv.Itoa(def.CustomerIDMaxLen)),
			},
		}},
	}
}

func (s *Stack) findPool(ctx context.Context, name string) (string, error) {
	p := cip.NewListUserPoolsPaginator(s.Cognito, &cip.ListUserPoolsInput{MaxResults: aws.Int32(60)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list user pools: %w", err)
		}
		for _, up := range page.UserPools {
			if aws.ToString(up.Name) == name {
				return aws.ToString(up.Id), nil
			}
		}
	}
	return "", nil
}

func (s *Stack) poolClient(ctx context.Context, pool string) (string, error) {
	out, err := s.Cognito.ListUserPoolClients(ctx, &cip.ListUserPoolClientsInput{UserPoolId: aws.String(pool), MaxResults: aws.Int32(60)})
	if err != nil {
		return "", fmt.Errorf("list user pool clients: %w", err)
	}
	for _, c := range out.UserPoolClients {
		if aws.ToString(c.ClientName) == localClientName {
			return aws.ToString(c.ClientId), nil
		}
	}
	c, err := s.Cognito.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId: aws.String(pool), ClientName: aws.String(localClientName),
		ExplicitAuthFlows: []ctypes.ExplicitAuthFlowsType{
			ctypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth, ctypes.ExplicitAuthFlowsTypeAllowRefreshTokenAuth,
		},
		PreventUserExistenceErrors: ctypes.PreventUserExistenceErrorTypesEnabled,
		EnableTokenRevocation:      aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("create user pool client: %w", err)
	}
	return aws.ToString(c.UserPoolClient.ClientId), nil
}
