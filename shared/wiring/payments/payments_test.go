package payments_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/vaultbill/vaultbill/shared/adapters/processor"
	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/payments"
)

// TestRegisterConfiguration: the function refuses to start without the vault's table and key or the data key, or with
// a card processor it does not know, naming what is wrong; the sandbox is the default.
func TestRegisterConfiguration(t *testing.T) {
	base := map[string]string{config.EnvBillingTable: "b", config.EnvAuditTable: "a", config.EnvVaultTable: "v", config.EnvVaultKey: "alias/v", config.EnvDataKey: "alias/d"}
	env := func(extra map[string]string, drop ...string) wiring.Env {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		for _, k := range drop {
			delete(m, k)
		}
		return wiring.Env{Config: config.From(func(k string) string { return m[k] }), AWS: aws.Config{Region: "eu-west-1"}, Log: slog.New(slog.DiscardHandler)}
	}
	tests := []struct {
		name    string
		env     wiring.Env
		wantErr string
	}{
		{"default processor", env(nil), ""},
		{"sandbox", env(map[string]string{processor.EnvProcessor: "sandbox"}), ""},
		{"unknown processor", env(map[string]string{processor.EnvProcessor: "stripe"}), processor.EnvProcessor},
		{"sandbox in a test stage", env(map[string]string{processor.EnvProcessor: "sandbox", processor.EnvStage: processor.StageTest}), ""},
		// The sandbox approves 4242... and moves no money: a production stage must never pay with it.
		{"sandbox in production", env(map[string]string{processor.EnvProcessor: "sandbox", processor.EnvStage: processor.StageProduction}), "sandbox"},
		{"default processor in production", env(map[string]string{processor.EnvStage: processor.StageProduction}), "sandbox"},
		{"unknown stage", env(map[string]string{processor.EnvStage: "prod"}), processor.EnvStage},
		{"no vault table", env(nil, config.EnvVaultTable), config.EnvVaultTable},
		{"no vault key", env(nil, config.EnvVaultKey), config.EnvVaultKey},
		// Cardholder names are sealed under customer keys, which the data key unwraps.
		{"no data key", env(nil, config.EnvDataKey), config.EnvDataKey},
	}
	for _, tt := range tests {
		_, err := wiring.API(tt.env, routes.Payments, payments.Register)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %v, want an error naming %s", tt.name, err, tt.wantErr)
		}
	}
	if p, err := processor.New("", ""); err != nil {
		t.Errorf("default processor: %v", err)
	} else if _, ok := p.(*processor.Sandbox); !ok {
		t.Errorf("default processor is %T, want the sandbox", p)
	}
}
