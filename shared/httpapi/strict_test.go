package httpapi

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/problem"
)

// TestDecodeRejectsDuplicateAndCaseVariantFields: encoding/json alone keeps the last of two equal
// names and matches names in any case, so each of these bodies was read as amount 9.
func TestDecodeRejectsDuplicateAndCaseVariantFields(t *testing.T) {
	type inner struct {
		Amount int64 `json:"amount"`
	}
	type body struct {
		Amount int64   `json:"amount"`
		Lines  []inner `json:"lines"`
	}
	for _, tt := range []struct{ body, field string }{
		{`{"amount":1,"amount":9}`, "amount"},
		{`{"amount":1,"Amount":9}`, "Amount"},
		{`{"lines":[{"amount":1,"AMOUNT":9}]}`, "AMOUNT"},
	} {
		var v body
		err := Decode(&events.APIGatewayProxyRequest{Body: tt.body}, &v)
		e := problem.From(err)
		if e.Code != problem.ValidationFailed || !e.Malformed || len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
			t.Errorf("%s: %v (%+v), want a 400 naming %s", tt.body, err, e, tt.field)
		}
	}
	var v body
	if err := Decode(&events.APIGatewayProxyRequest{Body: `{"amount":1,"lines":[{"amount":2},{"amount":3}]}`}, &v); err != nil || v.Amount != 1 || len(v.Lines) != 2 {
		t.Errorf("a body whose nested objects reuse a name: %+v, %v", v, err)
	}
}
