package billingdb_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// listPrefixes are the id prefixes of the lists that take a cursor.
var listPrefixes = []string{billing.CustomerPrefix, billing.InvoicePrefix, billing.CreditNotePrefix}

// FuzzParsePage checks the limit and cursor query parameters. A limit is accepted only as a whole
// number from 1 to 100. A cursor is accepted only as "<RFC 3339 time>#<id of the listed kind>": the
// list's partition comes from the route and its filters, never from the cursor, which only bounds the
// sort key within that partition, so a cursor cannot carry a partition key, another kind's id or
// anything else; the same cursor is refused by every other kind of list. A refusal never echoes the
// cursor.
func FuzzParsePage(f *testing.F) {
	valid := billingdb.EncodeCursor("2026-01-02T03:04:05Z#cus_aaaaaaaaaaaaaaaaaaaaaaaaaa")
	for _, c := range []string{
		"", valid, valid + "=", billingdb.EncodeCursor("2026-01-02T03:04:05Z#in_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
		billingdb.EncodeCursor("2026-01-02T03:04:05Z#cus_aaaaaaaaaaaaaaaaaaaaaaaaaa#INVSTATUS#paid"),
		billingdb.EncodeCursor("CUSTOMERS#2026-01-02T03:04:05Z#cus_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
		billingdb.EncodeCursor("9999-12-31T23:59:59+14:00#cus_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
		"not base64!", strings.Repeat("A", 200), "4111111111111111",
	} {
		for _, l := range []string{"", "1", "100", "0", "101", "-1", "+5", "007", "1e2", "99999999999999999999", " 5"} {
			f.Add(l, c, uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, limit, cursor string, kind uint8) {
		prefix := listPrefixes[int(kind)%len(listPrefixes)]
		p, err := billingdb.ParsePage(limit, cursor, prefix)
		n, atoiErr := strconv.Atoi(limit)
		limitOK := limit == "" || (atoiErr == nil && n >= 1 && n <= billingdb.MaxLimit)
		if !limitOK {
			if err == nil {
				t.Fatalf("limit %q accepted as %d", limit, p.Limit)
			}
		}
		if err != nil {
			e := problem.From(err)
			b, _ := json.Marshal(e)
			if e.Status() != 400 || (len(cursor) >= 8 && strings.Contains(string(b), cursor)) {
				t.Fatalf("refusal is %d or echoes the cursor: %s", e.Status(), b)
			}
			return
		}
		if p.Limit < 1 || p.Limit > billingdb.MaxLimit || (limit == "" && p.Limit != billingdb.DefaultLimit) {
			t.Fatalf("limit %q gave page size %d", limit, p.Limit)
		}
		if cursor == "" {
			if p.After != "" {
				t.Fatalf("no cursor gave position %q", p.After)
			}
			return
		}
		ts, id, ok := strings.Cut(p.After, "#")
		if _, terr := time.Parse(time.RFC3339, ts); !ok || terr != nil || !billing.ValidID(prefix, id) {
			t.Fatalf("cursor %q decoded to position %q, not <time>#<%s id>", cursor, p.After, prefix)
		}
		for _, other := range listPrefixes {
			if other == prefix {
				continue
			}
			if _, err := billingdb.ParsePage("", cursor, other); err == nil {
				t.Fatalf("a %s cursor %q pages the %s list", prefix, cursor, other)
			}
		}
		if q, err := billingdb.ParsePage("", billingdb.EncodeCursor(p.After), prefix); err != nil || q.After != p.After {
			t.Fatalf("position %q does not round-trip: %q, %v", p.After, q.After, err)
		}
	})
}
