package auditreview

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// PublishAPI is the SNS call alerts need.
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNSPublisher sends alerts to an SNS topic (e-mail, chat or paging subscribe to it).
type SNSPublisher struct {
	API      PublishAPI
	TopicARN string
}

// Publish sends a as JSON, with a short subject for e-mail subscribers.
func (p SNSPublisher) Publish(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("marshal alert %s: %w", a.Rule, err)
	}
	subject := "Vaultbill audit alert: " + a.Rule
	if _, err := p.API.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(p.TopicARN), Subject: aws.String(subject), Message: aws.String(string(body)),
	}); err != nil {
		return fmt.Errorf("publish %s alert to %s: %w", a.Rule, p.TopicARN, err)
	}
	return nil
}
