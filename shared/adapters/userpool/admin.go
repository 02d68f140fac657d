package userpool

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ctypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// AdminAPI is the part of the Cognito API the users function calls; the CDK grant names exactly
// these actions (infra/stacks UsersPoolActions).
type AdminAPI interface {
	AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, opts ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminGetUser(ctx context.Context, in *cip.AdminGetUserInput, opts ...func(*cip.Options)) (*cip.AdminGetUserOutput, error)
	ListUsers(ctx context.Context, in *cip.ListUsersInput, opts ...func(*cip.Options)) (*cip.ListUsersOutput, error)
	ListUsersInGroup(ctx context.Context, in *cip.ListUsersInGroupInput, opts ...func(*cip.Options)) (*cip.ListUsersInGroupOutput, error)
	AdminListGroupsForUser(ctx context.Context, in *cip.AdminListGroupsForUserInput, opts ...func(*cip.Options)) (*cip.AdminListGroupsForUserOutput, error)
	AdminAddUserToGroup(ctx context.Context, in *cip.AdminAddUserToGroupInput, opts ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error)
	AdminRemoveUserFromGroup(ctx context.Context, in *cip.AdminRemoveUserFromGroupInput, opts ...func(*cip.Options)) (*cip.AdminRemoveUserFromGroupOutput, error)
	AdminDisableUser(ctx context.Context, in *cip.AdminDisableUserInput, opts ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error)
	AdminEnableUser(ctx context.Context, in *cip.AdminEnableUserInput, opts ...func(*cip.Options)) (*cip.AdminEnableUserOutput, error)
	AdminUserGlobalSignOut(ctx context.Context, in *cip.AdminUserGlobalSignOutInput, opts ...func(*cip.Options)) (*cip.AdminUserGlobalSignOutOutput, error)
	AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, opts ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
}

// AdminActions are the IAM action names of AdminAPI, for the users function's grant.
var AdminActions = resources.UserPoolAdminActions

// Status is a user's state as the API shows it.
type Status string

// The user statuses: invited (temporary password not yet replaced), active, disabled.
const (
	Invited  Status = "invited"
	Active   Status = "active"
	Disabled Status = "disabled"
)

// User is one pool user.
type User struct {
	ID         string // the pool's sub, which the user's tokens carry
	Username   string // the pool's username (the pool's own key for admin calls)
	Email      string
	Role       auth.Role
	CustomerID string
	Status     Status
	MFAEnabled bool
	CreatedAt  time.Time
}

// ErrNotFound means no user has the id; ErrExists means the email is taken.
var (
	ErrNotFound = errors.New("userpool: no such user")
	ErrExists   = errors.New("userpool: user exists")
)

// Directory administers the users of one pool.
type Directory struct {
	API    AdminAPI
	PoolID string
}

// customerAttr is the pool attribute that carries a customer user's customer.
var customerAttr = "custom:" + resources.Users.CustomerIDAttribute

// Invite creates a user with a temporary password (Cognito sends the invitation, or returns it to an
// operator's CLI, never through the API) and puts it in its role's group.
func (d *Directory) Invite(ctx context.Context, email string, role auth.Role, customerID, tempPassword string) (User, error) {
	attrs := []ctypes.AttributeType{
		{Name: aws.String("email"), Value: aws.String(email)},
		{Name: aws.String("email_verified"), Value: aws.String("true")},
	}
	if customerID != "" {
		attrs = append(attrs, ctypes.AttributeType{Name: aws.String(customerAttr), Value: aws.String(customerID)})
	}
	// A pool that signs users in by email alias refuses an email-shaped username, and an email can
	// change: the username is random, the email an attribute, the id the pool's sub.
	if _, err := d.UsernameFor(ctx, email); err == nil {
		return User{}, ErrExists
	} else if !errors.Is(err, ErrNotFound) {
		return User{}, err
	}
	in := &cip.AdminCreateUserInput{UserPoolId: aws.String(d.PoolID), Username: aws.String(newUsername()), UserAttributes: attrs,
		DesiredDeliveryMediums: []ctypes.DeliveryMediumType{ctypes.DeliveryMediumTypeEmail}}
	if tempPassword != "" {
		in.TemporaryPassword = aws.String(tempPassword)
	}
	var u User
	for attempt := 0; ; attempt++ {
		out, err := d.API.AdminCreateUser(ctx, in)
		var exists *ctypes.UsernameExistsException
		var alias *ctypes.AliasExistsException
		if errors.As(err, &exists) || errors.As(err, &alias) {
			return User{}, ErrExists
		}
		if err != nil {
			return User{}, fmt.Errorf("create user: %w", err)
		}
		u = fromUser(out.User)
		// The API refuses any URL, and the audit trail any record, holding a digit run that reads as
		// a card number; a random sub can (its all-digit groups joined by dashes). Such a user could
		// never be addressed, so it is replaced by one with another sub before anyone sees it.
		if !logging.ContainsPAN(u.ID) {
			break
		}
		if _, err := d.API.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: aws.String(d.PoolID), Username: aws.String(u.Username)}); err != nil {
			return User{}, fmt.Errorf("replace user with a card-number-like id: %w", err)
		}
		if attempt == 4 {
			return User{}, errors.New("create user: every id drawn reads as a card number")
		}
		in.Username = aws.String(newUsername())
	}
	if err := d.addToGroup(ctx, u.Username, role); err != nil {
		return User{}, err
	}
	u.Role = role
	return u, nil
}

func (d *Directory) addToGroup(ctx context.Context, username string, role auth.Role) error {
	if _, err := d.API.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{
		UserPoolId: aws.String(d.PoolID), Username: aws.String(username), GroupName: aws.String(string(role)),
	}); err != nil {
		return fmt.Errorf("add user to group %s: %w", role, err)
	}
	return nil
}

// UsernameFor returns the username of the user whose email is email (ErrNotFound if none).
func (d *Directory) UsernameFor(ctx context.Context, email string) (string, error) {
	return UsernameFor(ctx, d.API, d.PoolID, email)
}

// Lister is the ListUsers call.
type Lister interface {
	ListUsers(ctx context.Context, in *cip.ListUsersInput, opts ...func(*cip.Options)) (*cip.ListUsersOutput, error)
}

// UsernameFor finds the username of the user with email in pool. The email must already be
// validated: it goes into the pool's filter expression.
func UsernameFor(ctx context.Context, api Lister, pool, email string) (string, error) {
	if strings.ContainsAny(email, `"\`) {
		return "", ErrNotFound
	}
	out, err := api.ListUsers(ctx, &cip.ListUsersInput{
		UserPoolId: aws.String(pool), Filter: aws.String(`email = "` + email + `"`), Limit: aws.Int32(2),
	})
	if err != nil {
		return "", fmt.Errorf("find user by email: %w", err)
	}
	for _, u := range out.Users {
		if got := fromUser(&u); strings.EqualFold(got.Email, email) {
			return got.Username, nil
		}
	}
	return "", ErrNotFound
}

func newUsername() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "user-" + hex.EncodeToString(b[:])
}

// Get returns the user whose sub is id.
func (d *Directory) Get(ctx context.Context, id string) (User, error) {
	out, err := d.API.ListUsers(ctx, &cip.ListUsersInput{
		UserPoolId: aws.String(d.PoolID), Filter: aws.String(`sub = "` + id + `"`), Limit: aws.Int32(1),
	})
	if err != nil {
		return User{}, fmt.Errorf("find user: %w", err)
	}
	if len(out.Users) != 1 {
		return User{}, ErrNotFound
	}
	u := fromUser(&out.Users[0])
	if u.ID != id { // the filter is the pool's; the answer must still be the user asked for
		return User{}, ErrNotFound
	}
	return d.complete(ctx, u)
}

// complete adds the role (from the user's groups) and the MFA state, which ListUsers does not return.
func (d *Directory) complete(ctx context.Context, u User) (User, error) {
	g, err := d.API.AdminListGroupsForUser(ctx, &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(d.PoolID), Username: aws.String(u.Username)})
	if err != nil {
		return User{}, fmt.Errorf("list groups of user: %w", err)
	}
	var groups []string
	for _, x := range g.Groups {
		groups = append(groups, aws.ToString(x.GroupName))
	}
	u.Role, _ = auth.RoleFromGroups(groups)
	got, err := d.API.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(d.PoolID), Username: aws.String(u.Username)})
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	u.MFAEnabled = len(got.UserMFASettingList) > 0
	return u, nil
}

// List returns up to limit users after the pool's pagination token, and the next token.
func (d *Directory) List(ctx context.Context, limit int32, token string) ([]User, string, error) {
	in := &cip.ListUsersInput{UserPoolId: aws.String(d.PoolID), Limit: aws.Int32(limit)}
	if token != "" {
		in.PaginationToken = aws.String(token)
	}
	out, err := d.API.ListUsers(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	users := make([]User, 0, len(out.Users))
	for i := range out.Users {
		u, err := d.complete(ctx, fromUser(&out.Users[i]))
		if err != nil {
			return nil, "", err
		}
		users = append(users, u)
	}
	return users, aws.ToString(out.PaginationToken), nil
}

// EnabledAdmins counts the enabled members of the admin group.
func (d *Directory) EnabledAdmins(ctx context.Context) (int, error) {
	n := 0
	p := cip.NewListUsersInGroupPaginator(d.API, &cip.ListUsersInGroupInput{UserPoolId: aws.String(d.PoolID), GroupName: aws.String(string(auth.Admin))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("list admins: %w", err)
		}
		for _, u := range page.Users {
			if u.Enabled {
				n++
			}
		}
	}
	return n, nil
}

// SetRole moves u into role's group and out of every other role's group.
func (d *Directory) SetRole(ctx context.Context, u User, role auth.Role) error {
	if err := d.addToGroup(ctx, u.Username, role); err != nil {
		return err
	}
	for _, r := range auth.Roles {
		if r == role {
			continue
		}
		_, err := d.API.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{
			UserPoolId: aws.String(d.PoolID), Username: aws.String(u.Username), GroupName: aws.String(string(r)),
		})
		var nf *ctypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("remove user from group %s: %w", r, err)
		}
	}
	return nil
}

// Disable, Enable and SignOut change the user's state in the pool.
func (d *Directory) Disable(ctx context.Context, u User) error {
	_, err := d.API.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: aws.String(d.PoolID), Username: aws.String(u.Username)})
	return wrap("disable user", err)
}

// Enable lets a disabled user sign in again.
func (d *Directory) Enable(ctx context.Context, u User) error {
	_, err := d.API.AdminEnableUser(ctx, &cip.AdminEnableUserInput{UserPoolId: aws.String(d.PoolID), Username: aws.String(u.Username)})
	return wrap("enable user", err)
}

// SignOut revokes the user's refresh tokens in the pool.
func (d *Directory) SignOut(ctx context.Context, u User) error {
	_, err := d.API.AdminUserGlobalSignOut(ctx, &cip.AdminUserGlobalSignOutInput{UserPoolId: aws.String(d.PoolID), Username: aws.String(u.Username)})
	return wrap("sign user out", err)
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func fromUser(t *ctypes.UserType) User {
	u := User{Username: aws.ToString(t.Username), CreatedAt: aws.ToTime(t.UserCreateDate).UTC()}
	for _, a := range t.Attributes {
		switch aws.ToString(a.Name) {
		case "sub":
			u.ID = aws.ToString(a.Value)
		case "email":
			u.Email = aws.ToString(a.Value)
		case customerAttr:
			u.CustomerID = aws.ToString(a.Value)
		}
	}
	switch {
	case !t.Enabled:
		u.Status = Disabled
	case t.UserStatus == ctypes.UserStatusTypeForceChangePassword:
		u.Status = Invited
	default:
		u.Status = Active
	}
	u.Email = strings.ToLower(u.Email)
	return u
}

// PasswordSetter sets a user's password; only the operator CLI holds it, never a function.
type PasswordSetter interface {
	AdminSetUserPassword(ctx context.Context, in *cip.AdminSetUserPasswordInput, opts ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error)
}

// SetTemporaryPassword gives an invited user a temporary password that must be replaced at the first
// sign-in. The operator CLI uses it to hand an invitation over without email; the API never sees it.
func SetTemporaryPassword(ctx context.Context, api PasswordSetter, poolID, username, password string) error {
	_, err := api.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: aws.String(poolID), Username: aws.String(username), Password: aws.String(password), Permanent: false,
	})
	return wrap("set temporary password", err)
}
