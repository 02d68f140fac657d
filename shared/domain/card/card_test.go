package card_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

var now = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

func pan(s string) card.PAN { return card.NewPAN([]byte(s)) }

func TestValidateBrands(t *testing.T) {
	tests := []struct {
		number string
		cvc    string
		want   card.Brand
	}{
		{"4242424242424242", "123", card.Visa},
		{"4222222222222", "123", card.Visa},          // 13 digits
		{"4111111111111111003", "123", card.Visa},    // 19 digits
		{"5555555555554444", "123", card.Mastercard}, // 51-55
		{"2223003122003222", "123", card.Mastercard}, // 2221-2720
		{"378282246310005", "1234", card.Amex},       // 37
		{"340000000000009", "", card.Amex},           // cvc optional
		{"6011111111111117", "123", card.Discover},   // 6011
		{"6445644564456445", "123", card.Discover},   // 644-649
		{"6221260000000000", "123", card.Discover},   // 622126-622925
		{"6200000000000005", "123", card.UnionPay},   // 62
		{"3566002020360505", "123", card.JCB},        // 3528-3589
		{"36227206271667", "123", card.Diners},       // 36, 14 digits
		{"3056930009020004", "123", card.Diners},     // 300-305, 16 digits
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			c, err := card.Validate(card.Input{Number: pan(tt.number), ExpMonth: 12, ExpYear: 2030, CVC: tt.cvc}, now, "card.")
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if c.Brand != tt.want {
				t.Errorf("brand %q, want %q", c.Brand, tt.want)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	good := card.Input{Number: pan("4242424242424242"), ExpMonth: 12, ExpYear: 2030, CVC: "123"}
	tests := []struct {
		name   string
		mutate func(*card.Input)
		want   []problem.FieldError
	}{
		{"bad Luhn", func(in *card.Input) { in.Number = pan("4242424242424241") },
			fe("card.number", "is not a valid card number (check digit mismatch)")},
		{"wrong length for brand", func(in *card.Input) { in.Number = pan("42424242424242") },
			fe("card.number", "has the wrong number of digits for a visa card")},
		{"amex with 16 digits", func(in *card.Input) { in.Number = pan("3782822463100052") },
			fe("card.number", "has the wrong number of digits for a amex card")},
		{"mastercard 2721", func(in *card.Input) { in.Number = pan("2721000000000004") },
			fe("card.number", "is not a number of a supported card brand")},
		{"letters", func(in *card.Input) { in.Number = pan("4242x24242424242") },
			fe("card.number", "must contain digits only")},
		{"spaces", func(in *card.Input) { in.Number = pan("4242 4242 4242 4242") },
			fe("card.number", "must contain digits only")},
		{"empty number", func(in *card.Input) { in.Number = card.PAN{} },
			fe("card.number", "is required")},
		{"expired last month", func(in *card.Input) { in.ExpMonth, in.ExpYear = 2, 2026 },
			fe("card.exp_year", "the card has expired")},
		{"month 13", func(in *card.Input) { in.ExpMonth = 13 },
			fe("card.exp_month", "must be a month from 1 to 12")},
		{"two-digit year", func(in *card.Input) { in.ExpYear = 30 },
			fe("card.exp_year", "must be a four-digit year")},
		{"2-digit cvc", func(in *card.Input) { in.CVC = "12" },
			fe("card.cvc", "must be 3 digits for a visa card")},
		{"5-digit cvc", func(in *card.Input) { in.CVC = "12345" },
			fe("card.cvc", "must be 3 digits for a visa card")},
		{"4-digit cvc on visa", func(in *card.Input) { in.CVC = "1234" },
			fe("card.cvc", "must be 3 digits for a visa card")},
		{"3-digit cvc on amex", func(in *card.Input) { in.Number, in.CVC = pan("378282246310005"), "123" },
			fe("card.cvc", "must be 4 digits for a amex card")},
		{"letters in cvc", func(in *card.Input) { in.CVC = "12a" },
			fe("card.cvc", "must contain digits only")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.mutate(&in)
			_, err := card.Validate(in, now, "card.")
			e := problem.From(err)
			if e.Code != problem.ValidationFailed || e.Status() != 422 {
				t.Fatalf("error %v, want a 422 validation_failed", err)
			}
			if diff := cmp.Diff(tt.want, e.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if b, _ := json.Marshal(e.Fields); strings.Contains(string(b), "4242") || strings.Contains(e.Detail, "4242") {
				t.Errorf("error echoes the number: %s", b)
			}
		})
	}
}

func fe(field, msg string) []problem.FieldError {
	return []problem.FieldError{{Field: field, Message: msg}}
}

func TestExpiryIsEndOfMonthUTC(t *testing.T) {
	in := card.Input{Number: pan("4242424242424242"), ExpMonth: 3, ExpYear: 2026}
	lastInstant := time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC)
	if _, err := card.Validate(in, lastInstant, ""); err != nil {
		t.Errorf("card expiring 03/2026 refused on its last day: %v", err)
	}
	if _, err := card.Validate(in, lastInstant.Add(time.Second), ""); err == nil {
		t.Error("card expiring 03/2026 accepted on 1 April 2026 UTC")
	}
}

// TestPANNeverRenders checks every way a card could reach a log, a response or an error.
func TestPANNeverRenders(t *testing.T) {
	c := card.Card{Number: pan("4242424242424242"), Brand: card.Visa, ExpMonth: 12, ExpYear: 2030, Name: "Ada Lovelace"}
	js, _ := json.Marshal(c)
	jsPAN, _ := json.Marshal(c.Number)
	txt, _ := c.Number.MarshalText()
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "card", c, "pan", c.Number, "input", card.Input{Number: c.Number, CVC: "987", Name: "Ada"})
	outputs := []string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %d %x %q", c, c, c, c.Number, c.Number, c.Number, c.Number),
		fmt.Sprintf("%+v %#v", c.Number, &c.Number), string(js), string(jsPAN), string(txt), logs.String(),
	}
	for _, out := range outputs {
		for _, secret := range []string{"4242", "Ada", "987", "34323432"} {
			if strings.Contains(out, secret) {
				t.Errorf("output holds %q: %s", secret, out)
			}
		}
	}
	if string(c.Number.Bytes()) != "4242424242424242" || c.Number.BIN() != "424242" || c.Number.Last4() != "4242" {
		t.Error("the digits are not reachable through Bytes/BIN/Last4")
	}
	buf := c.Number.Bytes()
	c.Zero()
	if !bytes.Equal(buf, make([]byte, 16)) || !c.Number.Empty() {
		t.Errorf("Zero left %q", buf)
	}
}

func TestPANUnmarshal(t *testing.T) {
	var in card.Input
	if err := json.Unmarshal([]byte(`{"number":"4242424242424242","exp_month":1,"exp_year":2030}`), &in); err != nil {
		t.Fatal(err)
	}
	if !in.Number.Equal("4242424242424242") {
		t.Error("number not read")
	}
	err := json.Unmarshal([]byte(`{"number":4242424242424242}`), &in)
	var typ *json.UnmarshalTypeError
	if err == nil || !errorsAs(err, &typ) {
		t.Errorf("a JSON number: %v, want a type error", err)
	}
}

func errorsAs(err error, target **json.UnmarshalTypeError) bool {
	e, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = e
	}
	return ok
}
