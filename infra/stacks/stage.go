package stacks

import (
	"fmt"

	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Stages of a deployment (AppProps.Stage; -c stage=... or VAULTBILL_STAGE).
const (
	StageTest       = resources.StageTest
	StageProduction = resources.StageProduction
	// DefaultStage is production: a deployment that does not say it is a test is treated as one that
	// takes real money, so forgetting the flag can never put the sandbox processor in front of real
	// invoices (the synth fails instead, with the reason).
	DefaultStage = StageProduction
)

// EnvStage tells the payments function its stage; it refuses the sandbox processor under production
// at cold start too (shared/adapters/processor.Check).
const EnvStage = resources.EnvStage

// DefaultPaymentProcessor is the payments function's card processor when none is configured.
const DefaultPaymentProcessor = resources.SandboxProcessor

// checkStage refuses a stage that is not a test stage from paying with the sandbox processor, which
// approves test cards and moves no money.
func checkStage(stage, proc string) error {
	if stage != StageTest && stage != StageProduction {
		return fmt.Errorf("stage %q: use -c stage=%s or -c stage=%s (or VAULTBILL_STAGE)", stage, StageTest, StageProduction)
	}
	if err := resources.CheckProcessorStage(proc, stage); err != nil {
		return fmt.Errorf("%w\nsynthesize a test stage with -c stage=%s (or VAULTBILL_STAGE=%s), or configure a real processor with -c paymentProcessor=...",
			err, StageTest, StageTest)
	}
	return nil
}

// stageSettings are the environment variables the stage decides for a function: the functions that
// talk to the card processor (payments charges, credit-notes refunds) are told their stage and processor.
func (p *APIStackProps) stageSettings(fn string) map[string]string {
	if fn != routes.Payments && fn != routes.CreditNotes {
		return nil
	}
	return map[string]string{EnvStage: p.Stage, EnvPaymentProcessor: p.PaymentProcessor}
}
