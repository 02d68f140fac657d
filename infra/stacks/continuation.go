package stacks

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// allowContinue lets a function with ContinueSelf invoke itself, and nothing else: the backup and
// restore-test functions continue a run past one invocation by invoking themselves asynchronously
// with the checkpoint (shared/ops/backup). The statement lives in its own policy, attached after the
// function exists, because the role's default policy cannot name the function that depends on it.
func (c *GrantedFunction) allowContinue(f Function) {
	if !slices.Contains(f.Touches, ContinueSelf) {
		return
	}
	awsiam.NewPolicy(awscdk.Stack_Of(c.Construct), jsii.String(FunctionID(f.Name)+"ContinuePolicy"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{c.Role},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ContinueSelf"),
			Actions:   jsii.Strings("lambda:InvokeFunction"),
			Resources: jsii.Strings(*c.Function.FunctionArn()),
		})},
	})
}
