package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Alarms are the API stack's CloudWatch alarms, each sent to the alerts topic: 5xx answers, function
// errors, the failure queue, authorizer denials, the audit trail's automated review and the backups.
type Alarms struct {
	constructs.Construct
}

// AlarmsProps configures the alarms.
type AlarmsProps struct {
	// Alerts receives every alarm.
	Alerts    awssns.Topic
	API       awsapigateway.RestApi
	Functions map[string]awslambda.Function
	Failures  awssqs.Queue
	// DenialAlarmThreshold means what APIStackProps.DenialAlarmThreshold does.
	DenialAlarmThreshold float64
}

// NewAlarms creates the alarms (construct id "Alarms"; their resources are the stack's, see NewAPIStack).
func NewAlarms(scope constructs.Construct, props *AlarmsProps) *Alarms {
	c := &Alarms{Construct: constructs.NewConstruct(scope, jsii.String("Alarms"))}
	stack := awscdk.Stack_Of(scope)
	action := awscloudwatchactions.NewSnsAction(props.Alerts)
	alarm := func(id, description string, m awscloudwatch.Metric, threshold float64) {
		al := m.CreateAlarm(stack, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(description),
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		al.AddAlarmAction(action)
	}
	five := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}
	alarm("Api5xxAlarm", "The API answered 5xx (a function, the authorizer or a dependency failed).", props.API.MetricServerError(five), 1)
	for _, f := range Functions {
		alarm(FunctionID(f.Name)+"ErrorsAlarm", "The "+f.Name+" function failed.", props.Functions[f.Name].MetricErrors(five), 1)
	}
	alarm("FailureQueueAlarm", "A scheduled or stream invocation failed after its retries (see the failure queue).",
		props.Failures.MetricApproximateNumberOfMessagesVisible(five), 1)

	// Denials: the authorizer logs "token rejected" (401) and "request denied" (403), one line each.
	authorizerLogs := props.Functions["authorizer"].LogGroup()
	denials := awslogs.NewMetricFilter(stack, jsii.String("AuthorizerDenials"), &awslogs.MetricFilterProps{
		LogGroup:        authorizerLogs,
		MetricNamespace: jsii.String("Vaultbill"),
		MetricName:      jsii.String("AuthorizerDenials"),
		MetricValue:     jsii.String("1"),
		FilterPattern: awslogs.FilterPattern_Any(
			awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String(resources.LogTokenRejected)),
			awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String(resources.LogRequestDenied)),
		),
	})
	alarm("AuthorizerDenialsAlarm", "Many requests were refused by the authorizer (credential stuffing or a broken client).",
		denials.Metric(five), props.DenialAlarmThreshold)
	c.audit(alarm, five)
	c.backup(action, props.Functions)
	return c
}

// AuditAlertRules are the automated review's rules (shared/ops/auditreview) each function raises: the
// shipper evaluates every rule on the records it ships, the digest reports only its own failures.
var AuditAlertRules = map[string][]string{
	"audit-shipper": {resources.RuleAuthFailures, resources.RuleCardDataDenied, resources.RuleDetokenize,
		resources.RuleNoMFA, resources.RulePipeline,
		resources.RuleCardAttempts, resources.RuleCardFailures, resources.RuleCardThrottled,
		resources.RulePrivilegeElevation},
	"audit-digest": {resources.RulePipeline},
}

// audit alarms on the automated review's EMF metrics (namespace Vaultbill/Audit): every
// alert a rule raised, per function and rule (the metric still counts an alert whose SNS publish
// failed), and every audit pipeline failure.
func (c *Alarms) audit(alarm func(id, description string, m awscloudwatch.Metric, threshold float64), five *awscloudwatch.MetricOptions) {
	for _, fn := range []string{"audit-shipper", "audit-digest"} {
		for _, rule := range AuditAlertRules[fn] {
			alarm(FunctionID(fn)+LogicalID(rule, "Alarm"), "The audit review raised "+rule+" ("+fn+").",
				awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
					Namespace: jsii.String(resources.AuditMetricNamespace), MetricName: jsii.String(resources.MetricAuditAlerts),
					DimensionsMap: &map[string]*string{"Function": jsii.String(fn), "Rule": jsii.String(rule)},
					Period:        five.Period, Statistic: five.Statistic,
				}), 1)
		}
		alarm(FunctionID(fn)+"PipelineFailuresAlarm", "The audit trail failed to ship, decode or digest ("+fn+").",
			awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String(resources.AuditMetricNamespace), MetricName: jsii.String(resources.MetricAuditPipelineFailures),
				DimensionsMap: &map[string]*string{"Function": jsii.String(fn)},
				Period:        five.Period, Statistic: five.Statistic,
			}), 1)
	}
	// The audit writer's and shipper's last check masked a card number (shared/adapters/audit.Guard).
	alarm("AuditCardNumberMaskedAlarm", "An audit record held a card number; it was masked before it was stored or shipped.",
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(resources.AuditMetricNamespace), MetricName: jsii.String(resources.MetricCardNumbersMasked),
			Period: five.Period, Statistic: five.Statistic,
		}), 1)
}

// BackupAlertMetrics are the metrics of the log lines shared/ops/backup marks "alert": true, per function.
var BackupAlertMetrics = map[string]string{"backup": "BackupAlertLines", "restore-test": "RestoreTestAlertLines"}

// backup alarms on the backup functions' EMF metrics (namespace Vaultbill/Backup, dimension
// Table): a day without a successful backup of a table, a week without a passing restore test, a
// newest backup older than 48 hours; and on every log line they mark as an alert. A missing
// datapoint is a failure: a schedule that stopped running must not look healthy.
func (c *Alarms) backup(action awscloudwatchactions.SnsAction, functions map[string]awslambda.Function) {
	day := awscdk.Duration_Days(jsii.Number(1))
	add := func(id, description string, m awscloudwatch.Metric, opts *awscloudwatch.CreateAlarmOptions) {
		opts.AlarmDescription = jsii.String(description)
		m.CreateAlarm(awscdk.Stack_Of(c.Construct), jsii.String(id), opts).AddAlarmAction(action)
	}
	metric := func(name, table, statistic string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(resources.BackupMetricNamespace), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{"Table": jsii.String(table)},
			Period:        day, Statistic: jsii.String(statistic),
		})
	}
	for _, t := range resources.Tables {
		add(LogicalID(t.ID, "BackupSuccessAlarm"), "No successful backup of the "+t.ID+" table in a day.",
			metric(resources.MetricBackupSuccess, t.ID, "Minimum"), &awscloudwatch.CreateAlarmOptions{
				Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
			})
		// The test runs weekly: of seven daily periods one has a datapoint, so all seven breach only
		// when that run failed or did not happen.
		add(LogicalID(t.ID, "RestoreTestSuccessAlarm"), "No passing restore test of the "+t.ID+" table in 7 days.",
			metric(resources.MetricRestoreTestSuccess, t.ID, "Minimum"), &awscloudwatch.CreateAlarmOptions{
				Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(7), DatapointsToAlarm: jsii.Number(7),
				ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
			})
		add(LogicalID(t.ID, "BackupAgeAlarm"), "The newest backup of the "+t.ID+" table is older than 48 hours.",
			metric(resources.MetricBackupAge, t.ID, "Maximum"), &awscloudwatch.CreateAlarmOptions{
				Threshold: jsii.Number(MaxBackupAge.Seconds()), EvaluationPeriods: jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			})
	}
	for _, fn := range []string{"backup", "restore-test"} {
		filter := awslogs.NewMetricFilter(awscdk.Stack_Of(c.Construct), jsii.String(FunctionID(fn)+"AlertLines"), &awslogs.MetricFilterProps{
			LogGroup:        functions[fn].LogGroup(),
			MetricNamespace: jsii.String(resources.BackupMetricNamespace),
			MetricName:      jsii.String(BackupAlertMetrics[fn]),
			MetricValue:     jsii.String("1"),
			FilterPattern:   awslogs.FilterPattern_BooleanValue(jsii.String("$.alert"), jsii.Bool(true)),
		})
		add(FunctionID(fn)+"AlertLinesAlarm", "The "+fn+" function logged an alert (a failed backup, restore or audit write).",
			filter.Metric(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
			&awscloudwatch.CreateAlarmOptions{
				Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			})
	}
}
