// Package userpool adapts the Cognito user pool: signing a user in (with the first sign-in's new
// password and TOTP enrollment) and administering its users for the users function.
package userpool

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ctypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// AuthAPI is the part of the Cognito API that signing in uses.
type AuthAPI interface {
	InitiateAuth(ctx context.Context, in *cip.InitiateAuthInput, opts ...func(*cip.Options)) (*cip.InitiateAuthOutput, error)
	RespondToAuthChallenge(ctx context.Context, in *cip.RespondToAuthChallengeInput, opts ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error)
	AssociateSoftwareToken(ctx context.Context, in *cip.AssociateSoftwareTokenInput, opts ...func(*cip.Options)) (*cip.AssociateSoftwareTokenOutput, error)
	VerifySoftwareToken(ctx context.Context, in *cip.VerifySoftwareTokenInput, opts ...func(*cip.Options)) (*cip.VerifySoftwareTokenOutput, error)
	SetUserMFAPreference(ctx context.Context, in *cip.SetUserMFAPreferenceInput, opts ...func(*cip.Options)) (*cip.SetUserMFAPreferenceOutput, error)
}

// Prompt asks the user for what a sign-in needs. Secrets it returns are never logged.
type Prompt interface {
	// NewPassword is asked on first sign-in, to replace the temporary password.
	NewPassword() (string, error)
	// EnrollTOTP shows the authenticator's otpauth URI (which holds the secret) and returns the
	// first code the authenticator shows.
	EnrollTOTP(otpauthURI string) (string, error)
	// Code returns the current TOTP code on later sign-ins.
	Code() (string, error)
}

// Tokens are the pool's tokens for a signed-in user. The API takes the ID token.
type Tokens struct {
	ID, Access, Refresh string
	ExpiresIn           int32
}

// Issuer is the name authenticator apps show for the TOTP entry.
const Issuer = "Vaultbill"

// Login signs a user in with password through the USER_PASSWORD_AUTH flow, answering the pool's
// challenges: NEW_PASSWORD_REQUIRED, MFA_SETUP (TOTP enrollment) and SOFTWARE_TOKEN_MFA. login is
// what the user signs in with (the email, an alias of the username in the deployed pool); email
// names the TOTP entry.
func Login(ctx context.Context, api AuthAPI, clientID, login, email, password string, p Prompt) (Tokens, error) {
	out, err := api.InitiateAuth(ctx, &cip.InitiateAuthInput{
		ClientId: aws.String(clientID), AuthFlow: ctypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": login, "PASSWORD": password},
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("sign in: %w", err)
	}
	challenge, session, result := out.ChallengeName, out.Session, out.AuthenticationResult
	// Challenge answers name the user by username, which Cognito returns for an alias sign-in.
	username := login
	if u := out.ChallengeParameters["USER_ID_FOR_SRP"]; u != "" {
		username = u
	} else if u := out.ChallengeParameters["USERNAME"]; u != "" {
		username = u
	}
	enrolled := false
	for step := 0; result == nil; step++ {
		if step > 4 {
			return Tokens{}, errors.New("sign in: too many challenges")
		}
		responses := map[string]string{"USERNAME": username}
		switch challenge {
		case ctypes.ChallengeNameTypeNewPasswordRequired:
			pw, err := p.NewPassword()
			if err != nil {
				return Tokens{}, err
			}
			responses["NEW_PASSWORD"] = pw
		case ctypes.ChallengeNameTypeMfaSetup:
			if session, err = enroll(ctx, api, email, session, p); err != nil {
				return Tokens{}, err
			}
			enrolled = true
		case ctypes.ChallengeNameTypeSoftwareTokenMfa:
			code, err := p.Code()
			if err != nil {
				return Tokens{}, err
			}
			responses["SOFTWARE_TOKEN_MFA_CODE"] = code
		default:
			return Tokens{}, fmt.Errorf("sign in: unsupported challenge %q", challenge)
		}
		r, err := api.RespondToAuthChallenge(ctx, &cip.RespondToAuthChallengeInput{
			ClientId: aws.String(clientID), ChallengeName: challenge, Session: session, ChallengeResponses: responses,
		})
		if err != nil {
			return Tokens{}, fmt.Errorf("sign in (%s): %w", challenge, err)
		}
		challenge, session, result = r.ChallengeName, r.Session, r.AuthenticationResult
	}
	t := Tokens{ID: aws.ToString(result.IdToken), Access: aws.ToString(result.AccessToken),
		Refresh: aws.ToString(result.RefreshToken), ExpiresIn: result.ExpiresIn}
	if enrolled {
		// Make TOTP the user's MFA method, so the pool reports it (mfa_enabled) and asks for it.
		if _, err := api.SetUserMFAPreference(ctx, &cip.SetUserMFAPreferenceInput{
			AccessToken:              aws.String(t.Access),
			SoftwareTokenMfaSettings: &ctypes.SoftwareTokenMfaSettingsType{Enabled: true, PreferredMfa: true},
		}); err != nil {
			return Tokens{}, fmt.Errorf("set TOTP as MFA method: %w", err)
		}
	}
	return t, nil
}

func enroll(ctx context.Context, api AuthAPI, email string, session *string, p Prompt) (*string, error) {
	a, err := api.AssociateSoftwareToken(ctx, &cip.AssociateSoftwareTokenInput{Session: session})
	if err != nil {
		return nil, fmt.Errorf("enroll TOTP: %w", err)
	}
	code, err := p.EnrollTOTP(OTPAuthURI(email, aws.ToString(a.SecretCode)))
	if err != nil {
		return nil, err
	}
	v, err := api.VerifySoftwareToken(ctx, &cip.VerifySoftwareTokenInput{
		Session: a.Session, UserCode: aws.String(code), FriendlyDeviceName: aws.String("vaultbill"),
	})
	if err != nil {
		return nil, fmt.Errorf("verify TOTP code: %w", err)
	}
	if v.Status != ctypes.VerifySoftwareTokenResponseTypeSuccess {
		return nil, fmt.Errorf("verify TOTP code: %s", v.Status)
	}
	return v.Session, nil
}

// OTPAuthURI is the Key URI authenticator apps import (github.com/google/google-authenticator
// key-uri format): TOTP, SHA-1, 6 digits, 30 s, as Cognito issues.
func OTPAuthURI(email, secret string) string {
	q := url.Values{"secret": {secret}, "issuer": {Issuer}}
	return "otpauth://totp/" + url.PathEscape(Issuer+":"+email) + "?" + q.Encode()
}
