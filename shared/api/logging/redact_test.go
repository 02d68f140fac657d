package logging

import (
	"strings"
	"testing"
)

// Published test card numbers (Stripe/issuer documentation); none is a real
// account.
const (
	visa       = "4242424242424242"
	visa13     = "4222222222222"
	mastercard = "5555555555554444"
	mc2series  = "2223003122003222"
	amex       = "378282246310005"
	discover   = "6011111111111117"
	diners14   = "30569309025904"
	unionpay19 = "6205500000000000004"

	// A compact JWT (the jwt.io example).
	testJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
		"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

	testPEM = "-----BEGIN RSA PRIVATE KEY-----\n" +
		"MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n" +
		"VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n" +
		"-----END RSA PRIVATE KEY-----"
)

func TestTestNumbersAreLuhnValid(t *testing.T) {
	for _, pan := range []string{visa, visa13, mastercard, mc2series, amex, discover, diners14, unionpay19} {
		d := make([]byte, len(pan))
		for i := range pan {
			d[i] = pan[i] - '0'
		}
		if !luhn(d) {
			t.Errorf("test PAN %s is not Luhn-valid; fix the fixture", pan)
		}
	}
	if luhn([]byte{4, 2, 4, 2, 4, 2, 4, 2, 4, 2, 4, 2, 4, 2, 4, 1}) {
		t.Error("4242424242424241 should fail Luhn")
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// PANs in the forms people and systems write them.
		{"visa plain", visa, panMark},
		{"visa 13 digits", visa13, panMark},
		{"mastercard plain", mastercard, panMark},
		{"mastercard 2-series", mc2series, panMark},
		{"amex plain", amex, panMark},
		{"discover plain", discover, panMark},
		{"diners 14 digits", diners14, panMark},
		{"unionpay 19 digits", unionpay19, panMark},
		{"visa spaced", "4242 4242 4242 4242", panMark},
		{"visa dashed", "4242-4242-4242-4242", panMark},
		{"mastercard spaced", "5555 5555 5555 4444", panMark},
		{"amex grouped 4-6-5", "3782 822463 10005", panMark},
		{"discover dashed", "6011-1111-1111-1117", panMark},
		{"embedded in text", "charge failed for card " + visa + " at 10:42", "charge failed for card " + panMark + " at 10:42"},
		{"spaced in text", "card 4242 4242 4242 4242 exp 12/30", "card " + panMark + " exp 12/30"},
		{"glued to letters", "pan=" + mastercard + "&x=1", "pan=" + panMark + "&x=1"},
		{"in JSON", `{"card":"` + visa + `","exp_month":12}`, `{"card":"` + panMark + `","exp_month":12}`},
		{"in JSON as number", `{"card":` + amex + `}`, `{"card":` + panMark + `}`},
		{"two PANs", visa + "," + discover, panMark + "," + panMark},
		{"quantity before spaced PAN", "qty 2 4242 4242 4242 4242", "qty 2 " + panMark},
		{"PAN before short group", visa + " 7", panMark + " 7"},
		{"PAN inside longer digit run", "0000" + visa + "99", panMark},

		// Digits that are not PANs stay.
		{"non-Luhn 16 digits", "4242424242424241", "4242424242424241"},
		{"non-Luhn 16 digits spaced", "4242 4242 4242 4241", "4242 4242 4242 4241"},
		{"non-Luhn 16 digit order number", "order 1234567812345678 shipped", "order 1234567812345678 shipped"},
		{"12 digits", "ref 424242424242", "ref 424242424242"},
		{"20 digits, no Luhn-valid window", "ref 11111111111111111111", "ref 11111111111111111111"},
		{"compact date", "settled 20261124", "settled 20261124"},
		{"ISO date time", "2026-11-24T10:42:07.123Z", "2026-11-24T10:42:07.123Z"},
		{"amount", "amount=1999 currency=usd total 123456.78", "amount=1999 currency=usd total 123456.78"},
		{"unix time", "ts=1732406400", "ts=1732406400"},
		{"last4 only", "card ending 4242", "card ending 4242"},
		{"token id", "tok_123 tok_4242", "tok_123 tok_4242"},

		// A UUID is no hiding place: a client chooses the request id API Gateway records (its
		// X-Amzn-RequestId header), so a card number in a UUID's shape is masked like any other.
		{"card number in a UUID's shape", "42424242-4242-4242-aaaa-bbbbbbbbbbbb", panMark + "-aaaa-bbbbbbbbbbbb"},

		// Tokens and keys.
		{"JWT", testJWT, jwtMark},
		{"JWT in text", "token=" + testJWT + " exp", "token=" + jwtMark + " exp"},
		{"unsigned JWT", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", jwtMark},
		{"eyJ alone", "eyJhbGciOi", "eyJhbGciOi"},
		{"Bearer header", "Authorization: Bearer " + testJWT, "Authorization: Bearer " + redactedMark},
		{"Bearer opaque", "Bearer abc123.def", "Bearer " + redactedMark},
		{"bearer lower case", `{"authorization":"bearer xyz"}`, `{"authorization":"bearer ` + redactedMark + `"}`},
		{"Bearer without token", "Bearer", "Bearer"},
		{"PEM private key", "key:\n" + testPEM + "\nend", "key:\n" + keyMark + "\nend"},
		{"PEM truncated", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI", keyMark},

		// Clean strings.
		{"empty", "", ""},
		{"clean", "payment captured", "payment captured"},
		{"markers are stable", panMark + " " + jwtMark + " Bearer " + redactedMark, panMark + " " + jwtMark + " Bearer " + redactedMark},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// A PAN hidden in a long run of digits must not survive in any form, even
// if the scan also matches spurious windows around it.
func TestRedactLongRuns(t *testing.T) {
	for _, in := range []string{
		"123456789" + visa + "123456789",
		"9 9 9 9 " + "4242 4242 4242 4242" + " 1 2 3",
		strings.Repeat("7", 100) + mastercard,
		"1234-5678-" + "6011-1111-1111-1117",
	} {
		got := Redact(in)
		for _, pan := range []string{visa, mastercard, discover, "4242 4242 4242 4242", "6011-1111-1111-1117"} {
			if strings.Contains(got, pan) {
				t.Errorf("Redact(%q) = %q still contains %s", in, got, pan)
			}
		}
		if !strings.Contains(got, panMark) {
			t.Errorf("Redact(%q) = %q has no PAN marker", in, got)
		}
	}
}

func TestRedactCleanDoesNotAllocate(t *testing.T) {
	for _, s := range []string{
		"payment captured for customer cus_123 amount 1999 usd",
		"order 1234567812345678 at 2026-11-24T10:42:07Z eyJ Bearer",
	} {
		allocs := testing.AllocsPerRun(100, func() {
			if Redact(s) != s {
				t.Fatal("clean string changed")
			}
		})
		if allocs != 0 {
			t.Errorf("Redact(%q) allocated %v times, want 0", s, allocs)
		}
	}
}

func TestSensitiveKey(t *testing.T) {
	for key, want := range map[string]bool{
		"cvc": true, "CVC": true, "cvv2": true, "cid": true, "security_code": true,
		"number": true, "Number": true, "card_number": true, "cardNumber": true, "Card-Number": true, "pan": true,
		"password": true, "secret": true, "Authorization": true, "jwt": true,
		"id_token": true, "accessToken": true, "refresh_token": true,
		"plaintext": true, "Plaintext": true, "plaintext_key": true, "data_key": true, "private_key": true,
		"secret_key": true, "apiKey": true, "x-api-key": true,

		"token": false, "key": false, "request_id": false, "amount": false, "currency": false,
		"last4": false, "brand": false, "order_number": false, "": false,
		strings.Repeat("a", 100): false,
	} {
		if got := SensitiveKey(key); got != want {
			t.Errorf("SensitiveKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func BenchmarkRedactClean(b *testing.B) {
	s := "payment captured for customer cus_123 amount 1999 usd at 2026-11-24T10:42:07Z"
	b.ReportAllocs()
	for b.Loop() {
		Redact(s)
	}
}

// FuzzRedact checks that Redact never panics, never lets a standalone PAN
// through, and is stable when applied twice (log pipelines may redact a
// value more than once). A PAN glued to a few extra digits inside a run of
// at most 19 is deliberately out of scope: such runs are judged whole, so
// that ordinary non-Luhn 16 digit references survive.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"", visa, "4242 4242 4242 4242", "x-4242-4242-4242-4242-", testJWT, "Bearer ", "Bearer x",
		testPEM, "-----BEGIN", "eyJ.", "eyJa.b.", strings.Repeat("9", 40), "1 2 3 4 5 6 7 8 9 0 1 2 3 4",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Redact(s)
		if again := Redact(got); again != got {
			t.Errorf("Redact not stable:\n in %q\nonce %q\ntwice %q", s, got, again)
		}
		// The audit writer refuses a record that still holds a card number after Redact.
		if ContainsPAN(got) {
			t.Errorf("Redact(%q) = %q, which ContainsPAN still reads a card number in", s, got)
		}
		for off := 0; ; {
			j := strings.Index(got[off:], visa)
			if j < 0 {
				break
			}
			i := off + j
			end := i + len(visa)
			if (i == 0 || !isDigit(got[i-1])) && (end == len(got) || !isDigit(got[end])) {
				t.Errorf("Redact(%q) = %q leaks a PAN", s, got)
				break
			}
			off = i + 1
		}
	})
}

// TestRunsStartingWithZeroAreNotCardNumbers: no payment card number starts with 0 (ISO/IEC 7812
// gives major industry identifier 0 to no card issuer), while AWS writes zero-padded millisecond
// times into identifiers: a DynamoDB backup ARN ends in one. Masking those raised a false
// card-number alert for about one backup in five and defaced the ARN in the audit trail.
func TestRunsStartingWithZeroAreNotCardNumbers(t *testing.T) {
	for _, s := range []string{
		"arn:aws:dynamodb:us-east-1:123456789012:table/vaultbill-billing/backup/01764394123459-73d8d5bc",
		"backup 01764394123459",
	} {
		if got := Redact(s); got != s {
			t.Errorf("Redact(%q) = %q", s, got)
		}
		if ContainsPAN(s) {
			t.Errorf("ContainsPAN(%q)", s)
		}
	}
	// Zeros in front of a card number are padding: the card number behind them is still found; a run
	// without zeros in front is judged as before.
	for _, s := range []string{"04111111111111111", "pan=0004111111111111111;", "0000 4111 1111 1111 1111", "1764394123459"} {
		if !ContainsPAN(s) || strings.Contains(Redact(s), "4111111111111111") {
			t.Errorf("the card number in %q is no longer found: %q", s, Redact(s))
		}
	}
}

// TestContainsPANOutsideUUIDs: a UUID whose decimal groups pass the Luhn check is told from a card
// number, but only a UUID standing apart: a card number glued to one, or beside it, is still found.
func TestContainsPANOutsideUUIDs(t *testing.T) {
	const id = "a8512345-6789-0123-4560-b940f31628a7" // "8512345-6789-0123-4560" passes the Luhn check
	if !ContainsPAN(id) {
		t.Fatalf("%s no longer reads as a card number: pick another", id)
	}
	for s, want := range map[string]bool{
		id: false,
		"arn:aws:kms:us-east-1:123456789012:key/" + id: false,
		`{"requestID":"` + id + `"}`:                   false,
		id + " card " + visa:                           true,
		visa + id:                                      true,
		id + "0":                                       true,
		// The UUID-shaped tail starts inside the card number.
		"4242424242424242-1111-1111-1111-111111111111": true,
	} {
		if got := ContainsPANOutsideUUIDs(s); got != want {
			t.Errorf("ContainsPANOutsideUUIDs(%q) = %v, want %v", s, got, want)
		}
	}
}
