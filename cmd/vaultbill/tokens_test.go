package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	auditstore "github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/ratelimit"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
)

// visaNumber returns a Luhn-valid 16-digit Visa number made from n.
func visaNumber(n int) string {
	body := fmt.Sprintf("4%014d", n)
	for d := '0'; d <= '9'; d++ {
		if card.Luhn([]byte(body + string(d))) {
			return body + string(d)
		}
	}
	panic("unreachable")
}

// TestTokensImport loads more cards than the API's card-attempt limit allows in a window, through the
// vault and with an audit record per card: invalid rows are reported by line without their numbers, a
// card given twice is stored once, and the API then recognises the imported cards.
func TestTokensImport(t *testing.T) {
	s := stacktest.New(t)
	ctx := context.Background()
	billingUser := stacktest.Token(t, s, devstack.TokenSpec{Role: "billing"})
	resp, body := stacktest.Do(t, s, "POST", "/v1/customers", billingUser, `{"name":"Imported","email":"i@example.com"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create customer: %d %s", resp.StatusCode, body)
	}
	var cus struct{ ID string }
	_ = json.Unmarshal([]byte(body), &cus)

	n := ratelimit.Defaults.Attempts + 10
	lines := []string{"number,exp_month,exp_year,name"}
	for i := range n {
		lines = append(lines, fmt.Sprintf("%s,%d,2035,Card Holder %d", visaNumber(i), 1+i%12, i))
	}
	badLuhn := visaNumber(999)[:15] + "0"
	if card.Luhn([]byte(badLuhn)) {
		badLuhn = badLuhn[:15] + "1"
	}
	lines = append(lines, lines[1], badLuhn+",12,2035", visaNumber(998)+",1,2020")
	file := filepath.Join(t.TempDir(), "cards.csv")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	devNull, _ := os.Open(os.DevNull)
	defer devNull.Close()

	res, err := importCards(ctx, s.Env, file, cus.ID, devNull)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != n || res.Existing != 1 || len(res.Rejected) != 2 || res.Rejected[0].Row != n+3 || res.Rejected[1].Row != n+4 {
		t.Fatalf("import: %+v; want %d created, 1 already stored, lines %d and %d rejected", res, n, n+3, n+4)
	}
	for _, r := range res.Rejected {
		if strings.Contains(r.Reason, badLuhn[6:12]) || strings.Contains(r.Reason, visaNumber(998)[6:12]) {
			t.Errorf("rejection echoes the number: %+v", r)
		}
	}

	// The API sees the imported cards: the same card again is the existing token.
	pay := stacktest.Token(t, s, devstack.TokenSpec{Role: "payments", Subject: "after-import"})
	resp, body = stacktest.Do(t, s, "POST", "/v1/tokens", pay,
		fmt.Sprintf(`{"customer_id":%q,"card":{"number":%q,"exp_month":1,"exp_year":2035}}`, cus.ID, visaNumber(0)))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("tokenize an imported card: %d %s, want 200 with its token", resp.StatusCode, body)
	}

	out, err := dynamodb.NewFromConfig(s.Env.AWS).Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.Env.Config.AuditTable)})
	if err != nil {
		t.Fatal(err)
	}
	imported := 0
	for _, item := range out.Items {
		rec, err := auditstore.Decode(item)
		if err != nil {
			t.Fatal(err)
		}
		if rec.EventName == tokens.ImportEvent && strings.HasPrefix(rec.UserIdentity.PrincipalID, "cli:") {
			imported++
		}
	}
	if imported != n+1 {
		t.Errorf("%d %s audit records, want %d (one per stored card)", imported, tokens.ImportEvent, n+1)
	}

	if _, err := importCards(ctx, s.Env, file, "cus_"+strings.Repeat("a", 26), devNull); err == nil || !strings.Contains(err.Error(), "no customer") {
		t.Errorf("import for an unknown customer: %v", err)
	}
}
