package userpool

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ctypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
)

// fakePool hands out the subs in order and records deletions; other calls are not expected.
type fakePool struct {
	AdminAPI
	subs    []string
	deleted []string
}

func (f *fakePool) ListUsers(context.Context, *cip.ListUsersInput, ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	return &cip.ListUsersOutput{}, nil
}

func (f *fakePool) AdminCreateUser(_ context.Context, in *cip.AdminCreateUserInput, _ ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	sub := f.subs[0]
	f.subs = f.subs[1:]
	return &cip.AdminCreateUserOutput{User: &ctypes.UserType{Username: in.Username, Enabled: true,
		Attributes: append([]ctypes.AttributeType{{Name: aws.String("sub"), Value: aws.String(sub)}}, in.UserAttributes...)}}, nil
}

func (f *fakePool) AdminDeleteUser(_ context.Context, in *cip.AdminDeleteUserInput, _ ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	f.deleted = append(f.deleted, aws.ToString(in.Username))
	return &cip.AdminDeleteUserOutput{}, nil
}

func (f *fakePool) AdminAddUserToGroup(context.Context, *cip.AdminAddUserToGroupInput, ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error) {
	return &cip.AdminAddUserToGroupOutput{}, nil
}

// TestInviteNeverKeepsACardNumberLikeID: a sub whose digit groups read as a card number would make
// the user unaddressable (the API refuses such URLs); the invitation replaces that user.
func TestInviteNeverKeepsACardNumberLikeID(t *testing.T) {
	panLike := "4e36e795-3641-4185-8303-10328ab2ff4c"
	if !logging.ContainsPAN(panLike) {
		t.Fatal("fixture no longer reads as a card number")
	}
	f := &fakePool{subs: []string{panLike, "0f1e2d3c-aaaa-bbbb-cccc-ddddeeeeffff"}}
	u, err := (&Directory{API: f, PoolID: "p"}).Invite(context.Background(), "a@example.com", auth.Billing, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "0f1e2d3c-aaaa-bbbb-cccc-ddddeeeeffff" || len(f.deleted) != 1 {
		t.Errorf("got id %s after deleting %v; want the second sub, the first user deleted", u.ID, f.deleted)
	}
}
