package templatetests

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/infra/stacks"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// TestOnlyInvoicesUsesCustomerKeys: direct use of the data key (not through DynamoDB or S3) is
// allowed for the customer-data purpose only, to the invoices function (which reads and writes
// customers' personal data) and to data-rights (unwrap only, for exports), tokens and payments
// (unwrap only, for cardholder names), and the purpose is the one shared/adapters/customerkeys sends.
func TestOnlyInvoicesUsesCustomerKeys(t *testing.T) {
	if got := customerkeys.Context("cus_x")[stacks.EncryptionContextPurpose]; got != stacks.PurposeCustomerData {
		t.Errorf("shared/adapters/customerkeys sends purpose %q; the key policy allows %q", got, stacks.PurposeCustomerData)
	}
	direct := map[string]map[string][]string{} // function → action → purposes
	for _, s := range keyStatements(t, "DataKey") {
		purposes := cfn.List(cfn.Get(s, "Condition", "StringEquals", "kms:EncryptionContext:"+stacks.EncryptionContextPurpose))
		m := roleARN.FindStringSubmatch(text(cfn.Get(s, "Condition", "ArnEquals", "aws:PrincipalArn")))
		if m == nil || len(purposes) == 0 {
			continue
		}
		for _, a := range cfn.List(cfn.Get(s, "Action")) {
			if direct[m[1]] == nil {
				direct[m[1]] = map[string][]string{}
			}
			for _, p := range purposes {
				direct[m[1]][a.(string)] = append(direct[m[1]][a.(string)], p.(string))
			}
		}
	}
	want := map[string]map[string][]string{
		routes.Invoices:   {"kms:GenerateDataKey": {customerkeys.Purpose}, "kms:Decrypt": {customerkeys.Purpose}},
		routes.DataRights: {"kms:Decrypt": {customerkeys.Purpose}},
		// Cardholder names in the vault are sealed under the customer's key (shared/adapters/vault): unwrap only.
		routes.Tokens:   {"kms:Decrypt": {customerkeys.Purpose}},
		routes.Payments: {"kms:Decrypt": {customerkeys.Purpose}},
	}
	if d := cmp.Diff(want, direct, sortStrings); d != "" {
		t.Errorf("direct use of the data key (-want +key policy):\n%s", d)
	}
}
