package backup

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func TestBackupConfiguration(t *testing.T) {
	tests := []struct {
		retention string
		wantDays  int
		wantErr   string
	}{
		{"", 35, ""},
		{"7", 7, ""},
		{"0", 0, config.EnvBackupRetentionDays},
		{"a week", 0, config.EnvBackupRetentionDays},
	}
	for _, tt := range tests {
		env := config.Local(resources.LocalNames, "iss", "jwks.json")
		env[config.EnvBackupRetentionDays] = tt.retention
		r, err := New(wiring.Env{Config: config.From(func(k string) string { return env[k] }), AWS: aws.Config{Region: "us-east-1"}}, "test")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("retention %q: error %v, want one naming %s", tt.retention, err, tt.wantErr)
			}
			continue
		}
		if err != nil || r.RetentionDays != tt.wantDays || len(r.Tables) != 3 || r.Tables[1].Name != "vaultbill-vault" || r.Tables[1].TableKeyID != "alias/vaultbill-vault" {
			t.Errorf("retention %q: %v, %+v", tt.retention, err, r)
		}
	}
	if _, err := New(wiring.Env{Config: config.From(func(string) string { return "" })}, "test"); err == nil || !strings.Contains(err.Error(), config.EnvBackupBucket) {
		t.Errorf("empty environment: %v, want an error naming %s", err, config.EnvBackupBucket)
	}
}
