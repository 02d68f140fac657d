package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// applyChecks runs the cdk-nag packs over every stack at synth, writing their reports (CSV and JSON)
// next to the templates, and records the suppressions.
func applyChecks(app awscdk.App, s Stacks) {
	props := func() *cdknag.NagPackProps {
		return &cdknag.NagPackProps{
			Reports:       jsii.Bool(true),
			ReportFormats: &[]cdknag.NagReportFormat{cdknag.NagReportFormat_CSV, cdknag.NagReportFormat_JSON},
			Verbose:       jsii.Bool(true),
		}
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(props()), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewPCIDSS321Checks(props()), nil)
}

// Errors lists the error annotations of every stack in the assembly (unsuppressed cdk-nag errors and
// construct errors), as "stack path: message".
func Errors(asm cxapi.CloudAssembly) []string {
	var out []string
	for _, st := range *asm.Stacks() {
		for _, m := range *st.Messages() {
			if m.Level == cxapi.SynthesisMessageLevel_ERROR {
				out = append(out, fmt.Sprintf("%s %s: %v", *st.StackName(), *m.Id, m.Entry.Data))
			}
		}
	}
	return out
}
