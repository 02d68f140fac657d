package userpool

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ctypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
)

// fakePool hands out the subs in order; other calls are not expected.
type fakePool struct {
	AdminAPI
	subs []string
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

func (f *fakePool) AdminAddUserToGroup(context.Context, *cip.AdminAddUserToGroupInput, ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error) {
	return &cip.AdminAddUserToGroupOutput{}, nil
}

// TestInviteKeepsASubWhoseGroupsPassTheLuhnCheck: the pool draws subs as UUIDs, and about one in 300
// has decimal groups that pass the Luhn check. Such a sub is an id like any other (no redaction reads
// a card number in a UUID): the user is kept, not deleted and drawn again.
func TestInviteKeepsASubWhoseGroupsPassTheLuhnCheck(t *testing.T) {
	sub := "4e36e795-3641-4185-8303-10328ab2ff4c"
	if !logging.ContainsPAN(strings.ReplaceAll(sub, "e", " ")) {
		t.Fatal("fixture's decimal groups no longer pass the Luhn check")
	}
	f := &fakePool{subs: []string{sub}}
	u, err := (&Directory{API: f, PoolID: "p"}).Invite(context.Background(), "a@example.com", auth.Billing, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != sub || logging.Redact(u.ID) != sub {
		t.Errorf("got id %s (redacted %s), want the sub kept as is", u.ID, logging.Redact(u.ID))
	}
}
