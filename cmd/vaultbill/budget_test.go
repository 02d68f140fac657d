package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/backup"
	backupwiring "github.com/vaultbill/vaultbill/shared/wiring/backup"
)

// TestBudgetSimulatesInvocations: with --budget, backup, restore and restore-test run in simulated
// invocations that pause at checkpoints and continue, and end as a run without a budget does.
func TestBudgetSimulatesInvocations(t *testing.T) {
	s := stacktest.New(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(s.Env.AWS)
	for i := range 40 {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Env.Config.BillingTable), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("ITEM#%03d", i)}, "sk": &types.AttributeValueMemberS{Value: "V"},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := backupwiring.NewRestoreTest(s.Env, "cli:test")
	if err != nil {
		t.Fatal(err)
	}
	r.PageItems = 5 // several pages per segment, so a budget that is always spent pauses after each
	var out bytes.Buffer
	b := &budgetFlags{budget: time.Nanosecond, margin: time.Minute, out: &out}

	res, err := b.backupInvocations(ctx, r, "")
	if err != nil {
		t.Fatalf("backup --budget: %v", err)
	}
	if !strings.Contains(out.String(), "invocation 1 (budget 1ns): paused at a checkpoint, backup "+res.ID+" continues") {
		t.Errorf("backup --budget did not continue across invocations:\n%s", out.String())
	}
	for _, tr := range res.Tables {
		if tr.Table == "billing" && tr.Items != 40 {
			t.Errorf("backup --budget: billing holds %d items, want 40", tr.Items)
		}
	}

	out.Reset()
	rr, err := b.restoreInvocations(ctx, r, backup.RestoreRequest{Source: "billing", From: res.ID, Table: "vaultbill-billing-budget"})
	if err != nil || rr.Items != 40 {
		t.Fatalf("restore --budget: %d items, %v; want 40", rr.Items, err)
	}
	if !strings.Contains(out.String(), "paused at a checkpoint, load phase") {
		t.Errorf("restore --budget did not continue across invocations:\n%s", out.String())
	}

	out.Reset()
	tr, err := b.restoreTestInvocations(ctx, r)
	if err != nil {
		t.Fatalf("restore-test --budget: %v", err)
	}
	if !strings.Contains(out.String(), "tables tested") || len(tr.Tables) != 3 {
		t.Errorf("restore-test --budget: %d tables, progress:\n%s", len(tr.Tables), out.String())
	}
}
