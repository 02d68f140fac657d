package stacks

import (
	"fmt"

	"github.com/vaultbill/vaultbill/shared/payments"
	"github.com/vaultbill/vaultbill/shared/routes"
)

// Stages of a deployment (AppProps.Stage; -c stage=... or VAULTBILL_STAGE).
const (
	StageTest       = payments.StageTest
	StageProduction = payments.StageProduction
	// DefaultStage is production: a deployment that does not say it is a test is treated as one that
	// takes real money, so forgetting the flag can never put the sandbox processor in front of real
	// invoices (the synth fails instead, with the reason).
	DefaultStage = StageProduction
)

// EnvStage tells the payments function its stage; it refuses the sandbox processor under production
// at cold start too (shared/payments.CheckProcessor).
const EnvStage = payments.EnvStage

// DefaultPaymentProcessor is the payments function's card processor when none is configured.
const DefaultPaymentProcessor = payments.Sandbox

// checkStage refuses a stage that is not a test stage from paying with the sandbox processor, which
// approves test cards and moves no money.
func checkStage(stage, processor string) error {
	if stage != StageTest && stage != StageProduction {
		return fmt.Errorf("stage %q: use -c stage=%s or -c stage=%s (or VAULTBILL_STAGE)", stage, StageTest, StageProduction)
	}
	if err := payments.CheckProcessor(processor, stage); err != nil {
		return fmt.Errorf("%w\nsynthesize a test stage with -c stage=%s (or VAULTBILL_STAGE=%s), or configure a real processor with -c paymentProcessor=...",
			err, StageTest, StageTest)
	}
	return nil
}

// stageSettings are the environment variables the stage decides for a function: the payments
// function is told its stage and card processor.
func (p *APIStackProps) stageSettings(fn string) map[string]string {
	if fn != routes.Payments {
		return nil
	}
	return map[string]string{EnvStage: p.Stage, EnvPaymentProcessor: p.PaymentProcessor}
}
