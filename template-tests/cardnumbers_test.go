package templatetests

import (
	"testing"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
)

// TestCardNumberInAuditRecordAlarms: when the audit writer's or shipper's last check has to mask a
// card number (the EMF metric of shared/adapters/audit, which has no dimensions so that one alarm covers every
// function), an alarm fires on the alerts topic within five minutes.
func TestCardNumberInAuditRecordAlarms(t *testing.T) {
	const any5min = "Sum GreaterThanOrEqualToThreshold 1 over 1×300s (<nil> of them), missing notBreaching"
	got := alarmsOn(audit.MetricNamespace, audit.MetricCardNumbersMasked, nil)
	if len(got) != 1 || alarmShape(got[0]) != any5min {
		t.Errorf("want one alarm on %s/%s firing on any masked record; got %d", audit.MetricNamespace, audit.MetricCardNumbersMasked, len(got))
	}
}
