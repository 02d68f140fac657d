package lambdaruntime

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/vaultbill/vaultbill/shared/local/devstack"
)

// ForStack describes a running local stack for the mapping, and creates on its emulator the SNS
// topics the templates define (the local provisioner has none: the local stack logs its alerts), so
// a function told about a topic can publish to it.
func ForStack(ctx context.Context, s *devstack.Stack, ts Templates) (Local, error) {
	c := s.Env.Config
	l := Local{
		Names: s.Names, Endpoint: s.Emulator.Endpoint, Region: c.Region, Account: c.Account,
		Issuer: c.JWTIssuer, Audience: c.JWTAudience, JWKSFile: c.JWKSFile, Topics: map[string]string{},
		UserPoolID: s.Pool.ID, URL: s.URL,
	}
	client := sns.NewFromConfig(s.Env.AWS)
	for _, id := range ts.Topics() {
		out, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(s.Names.Prefix + strings.ToLower(id))})
		if err != nil {
			return Local{}, fmt.Errorf("create local topic for %s: %w", id, err)
		}
		l.Topics[id] = aws.ToString(out.TopicArn)
	}
	return l, nil
}
