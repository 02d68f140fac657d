package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogsdestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Triggers are the invocations of the functions whose Trigger is not the REST API: the audit
// table's stream, the WAF block log subscription and the schedules.
type Triggers struct {
	constructs.Construct
}

// TriggersProps configures the triggers.
type TriggersProps struct {
	Data      *DataStack
	Functions map[string]awslambda.Function
	// Failures receives what still fails after the retries; WAFLogs is the web ACL's block log.
	Failures awssqs.Queue
	WAFLogs  awslogs.LogGroup
}

// schedule is when a scheduled function runs (UTC).
func schedule(t Trigger) awsevents.Schedule {
	switch t {
	case Hourly:
		return awsevents.Schedule_Rate(awscdk.Duration_Hours(jsii.Number(1)))
	case Daily:
		return awsevents.Schedule_Cron(&awsevents.CronOptions{Hour: jsii.String("3"), Minute: jsii.String("0")})
	case Weekly:
		// Two hours after the daily backup, so the restore test restores that morning's backup.
		return awsevents.Schedule_Cron(&awsevents.CronOptions{WeekDay: jsii.String("SUN"), Hour: jsii.String("5"), Minute: jsii.String("0")})
	}
	panic(fmt.Sprintf("trigger %q is not a schedule", t))
}

// NewTriggers creates what invokes each function other than the REST API (construct id "Triggers";
// its resources are the stack's, see NewAPIStack).
func NewTriggers(scope constructs.Construct, props *TriggersProps) *Triggers {
	c := &Triggers{Construct: constructs.NewConstruct(scope, jsii.String("Triggers"))}
	stack := awscdk.Stack_Of(scope)
	for _, f := range Functions {
		fn := props.Functions[f.Name]
		switch f.Trigger {
		case AuditStream:
			// Large batches gathered for up to a minute make few, large log files (shared/ops/audittrail
			// writes one file per batch where the size limits allow). The shipper answers with partial
			// batch responses; records that still fail after the retries go to the failure queue.
			fn.AddEventSource(awslambdaeventsources.NewDynamoEventSource(props.Data.Tables[resources.Audit.ID], &awslambdaeventsources.DynamoEventSourceProps{
				StartingPosition:        awslambda.StartingPosition_TRIM_HORIZON,
				BatchSize:               jsii.Number(ShipperBatchSize),
				MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(ShipperBatchingWindow.Seconds())),
				BisectBatchOnError:      jsii.Bool(true),
				ReportBatchItemFailures: jsii.Bool(true),
				RetryAttempts:           jsii.Number(10),
				MaxRecordAge:            auditStreamMaxRecordAge(), // then the digest's reconciliation ships them
				OnFailure:               awslambdaeventsources.NewSqsDlq(props.Failures),
				// TTL expiry of outbox items (REMOVE) is not shipped; MODIFY is, to alert on tampering.
				Filters: &[]*map[string]any{awslambda.FilterCriteria_Filter(&map[string]any{
					"eventName": awslambda.FilterRule_Or(jsii.String("INSERT"), jsii.String("MODIFY")),
				})},
			}))
		case WAFBlocks:
			// CloudWatch Logs invokes asynchronously: failures are retried, then go to the failure queue.
			awslogs.NewSubscriptionFilter(stack, jsii.String(FunctionID(f.Name)+"Subscription"), &awslogs.SubscriptionFilterProps{
				LogGroup:      props.WAFLogs,
				Destination:   awslogsdestinations.NewLambdaDestination(fn, nil),
				FilterPattern: awslogs.FilterPattern_StringValue(jsii.String("$.action"), jsii.String("="), jsii.String("BLOCK")),
			})
		case Hourly, Daily, Weekly:
			awsevents.NewRule(stack, jsii.String(FunctionID(f.Name)+"Schedule"), &awsevents.RuleProps{
				Description: jsii.String("Vaultbill " + f.Name + " (" + string(f.Trigger) + ")"),
				Schedule:    schedule(f.Trigger),
				Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
					DeadLetterQueue: props.Failures,
					RetryAttempts:   jsii.Number(2),
					MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
				})},
			})
		}
	}
	return c
}
