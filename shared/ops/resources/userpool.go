package resources

// UserPool is the Cognito user pool definition that both the CDK app and the local provisioner read,
// so the pool on the emulator has the MFA, password and attribute settings of the deployed one.
type UserPool struct {
	// ID is the CDK construct id and the local pool name's suffix.
	ID string
	// MFARequired makes a second factor mandatory for every user (Cognito MfaConfiguration ON); the
	// authorizer's MFA proof by issuer relies on it (DESIGN §4).
	MFARequired bool
	// TOTPOnly allows software tokens as the second factor and no SMS.
	TOTPOnly bool
	// The password policy.
	PasswordMinLength                                                 int
	RequireLowercase, RequireUppercase, RequireDigits, RequireSymbols bool
	TempPasswordValidityDays                                          int
	// CustomerIDAttribute is the immutable custom attribute (custom:<name> in tokens) that ties a
	// customer login to its customer.
	CustomerIDAttribute string
	// CustomerIDMaxLen bounds the attribute's length.
	CustomerIDMaxLen int
}

// Users is Vaultbill's user pool. Its groups are the roles (shared/domain/auth.Roles).
var Users = UserPool{
	ID:                "UserPool",
	MFARequired:       true,
	TOTPOnly:          true,
	PasswordMinLength: 14, RequireLowercase: true, RequireUppercase: true, RequireDigits: true, RequireSymbols: true,
	TempPasswordValidityDays: 1,
	CustomerIDAttribute:      "customer_id",
	CustomerIDMaxLen:         64,
}

// UserPool is the physical name of the local user pool.
func (n Names) UserPool() string { return n.Prefix + "users" }

// UserPoolAdminActions are the IAM actions the users function may call on the user pool: those of
// shared/adapters/userpool's AdminAPI.
var UserPoolAdminActions = []string{
	"cognito-idp:AdminCreateUser", "cognito-idp:AdminGetUser", "cognito-idp:ListUsers",
	"cognito-idp:ListUsersInGroup", "cognito-idp:AdminListGroupsForUser", "cognito-idp:AdminAddUserToGroup",
	"cognito-idp:AdminRemoveUserFromGroup", "cognito-idp:AdminDisableUser", "cognito-idp:AdminEnableUser",
	"cognito-idp:AdminUserGlobalSignOut", "cognito-idp:AdminDeleteUser",
}
