// Command infra is the CDK app: it synthesizes Vaultbill's CloudFormation templates (make synth) and
// is what the CDK CLI runs for make diff and make deploy. It is the only place that reads the
// environment; the stacks are configured through props.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/vaultbill/vaultbill/infra/stacks"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "synth failed:", err)
		os.Exit(1)
	}
}

func run() error {
	outdir := os.Getenv("CDK_OUTDIR") // set by the CDK CLI; make synth writes to cdk.out itself
	if outdir == "" {
		outdir = "cdk.out"
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: stacks.FeatureFlags()})
	region := first(os.Getenv("CDK_DEFAULT_REGION"), os.Getenv("AWS_REGION"))
	offsite := first(context(app, "offsiteRegion"), os.Getenv("VAULTBILL_OFFSITE_REGION"), defaultOffsite(region))
	_, err := stacks.Build(app, stacks.AppProps{
		Account:        os.Getenv("CDK_DEFAULT_ACCOUNT"),
		Region:         region,
		OffsiteRegion:  offsite,
		BuildDir:       first(os.Getenv("VAULTBILL_BUILD_DIR"), "../build"),
		AlarmEmail:     first(context(app, "alarmEmail"), os.Getenv("VAULTBILL_ALARM_EMAIL")),
		DomainName:     first(context(app, "domainName"), os.Getenv("VAULTBILL_DOMAIN_NAME")),
		CertificateARN: first(context(app, "certificateArn"), os.Getenv("VAULTBILL_CERTIFICATE_ARN")),
		// No stage means production (stacks.DefaultStage): only -c stage=test may pay with the sandbox.
		Stage:            first(context(app, "stage"), os.Getenv("VAULTBILL_STAGE")),
		PaymentProcessor: first(context(app, "paymentProcessor"), os.Getenv("VAULTBILL_PAYMENT_PROCESSOR")),
		KeyAdminARN:      first(context(app, "keyAdminArn"), os.Getenv("VAULTBILL_KEY_ADMIN_ARN")),
	})
	if err != nil {
		return err
	}
	asm := app.Synth(nil)
	if errs := stacks.Errors(asm); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, e)
		}
		return fmt.Errorf("%d error annotations (cdk-nag findings or construct errors); reports are in %s", len(errs), outdir)
	}
	fmt.Printf("synthesized %d stacks to %s\n", len(*asm.Stacks()), outdir)
	return nil
}

func context(app awscdk.App, key string) string {
	if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok {
		return v
	}
	return ""
}

// defaultOffsite picks a copy region when none is configured: another region of the same continent.
func defaultOffsite(region string) string {
	if region == "us-west-2" {
		return "us-east-2"
	}
	return "us-west-2"
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
