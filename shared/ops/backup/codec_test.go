package backup

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
)

// everyKind holds every DynamoDB attribute type, including the empty values DynamoDB allows outside keys.
func everyKind() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk":      &types.AttributeValueMemberS{Value: "CUS#cus_1"},
		"empty":   &types.AttributeValueMemberS{Value: ""},
		"amount":  &types.AttributeValueMemberN{Value: "-9223372036854775808"},
		"blob":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"noBlob":  &types.AttributeValueMemberB{Value: []byte{}},
		"paid":    &types.AttributeValueMemberBOOL{Value: false},
		"memo":    &types.AttributeValueMemberNULL{Value: true},
		"address": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"city": &types.AttributeValueMemberS{Value: "Zürich"}}},
		"noMap":   &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		"lines":   &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "1"}, &types.AttributeValueMemberS{Value: "x"}}},
		"noList":  &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"tags":    &types.AttributeValueMemberSS{Value: []string{"b", "a"}},
		"rates":   &types.AttributeValueMemberNS{Value: []string{"2", "1.5"}},
		"digests": &types.AttributeValueMemberBS{Value: [][]byte{{2}, {1}}},
		"unicode": &types.AttributeValueMemberS{Value: "line\nbreak \"quoted\" <html> \u2028"},
	}
}

func TestItemRoundTrip(t *testing.T) {
	item := everyKind()
	line, err := EncodeItem(item)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeItem(line)
	if err != nil {
		t.Fatalf("decode %s: %v", line, err)
	}
	// Sets come back sorted; they are unordered in DynamoDB.
	sortSets := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	opts := cmp.Options{cmpopts.IgnoreUnexported(
		types.AttributeValueMemberS{}, types.AttributeValueMemberN{}, types.AttributeValueMemberB{},
		types.AttributeValueMemberBOOL{}, types.AttributeValueMemberNULL{}, types.AttributeValueMemberM{},
		types.AttributeValueMemberL{}, types.AttributeValueMemberSS{}, types.AttributeValueMemberNS{},
		types.AttributeValueMemberBS{}), sortSets,
		cmpopts.SortSlices(func(a, b []byte) bool { return string(a) < string(b) })}
	if diff := cmp.Diff(item, got, opts); diff != "" {
		t.Errorf("item changed in a round trip (-want +got):\n%s", diff)
	}
	again, _ := EncodeItem(got)
	if string(again) != string(line) {
		t.Errorf("encoding is not canonical:\n%s\n%s", line, again)
	}
}

func TestDecodeRejectsBadLines(t *testing.T) {
	for _, line := range []string{``, `{}`, `{"Item":{"a":{}}}`, `{"Item":{"a":{"X":"1"}}}`, `{"Item":{},"extra":1}`} {
		if _, err := DecodeItem([]byte(line)); err == nil {
			t.Errorf("DecodeItem(%q) succeeded", line)
		}
	}
}

func TestChecksumIsOrderIndependentAndCountsDuplicates(t *testing.T) {
	lines := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	var forward, backward, split1, split2 Checksum
	for _, l := range lines {
		forward.Add(l)
	}
	for i := len(lines) - 1; i >= 0; i-- {
		backward.Add(lines[i])
	}
	split1.Add(lines[2])
	split2.Add(lines[0])
	split2.Add(lines[1])
	split1.Merge(split2)
	if forward != backward || forward != split1 {
		t.Errorf("checksums differ by order: %s %s %s", forward, backward, split1)
	}
	var dup Checksum
	for _, l := range [][]byte{lines[0], lines[1], lines[2], lines[2]} {
		dup.Add(l)
	}
	dup2 := forward
	dup2.Add(lines[0])
	if dup == forward || dup == dup2 {
		t.Error("a duplicated item does not change the checksum")
	}
}

func TestSealedPartsAreBoundToTheirKey(t *testing.T) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	key, err := envelope.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	k := &dataKey{key: key}
	sealed := k.seal("backups/billing/1/part-0-00000.ndjson.gz.enc", []byte("secret"))
	if pt, err := k.open("backups/billing/1/part-0-00000.ndjson.gz.enc", sealed); err != nil || string(pt) != "secret" {
		t.Fatalf("open: %q %v", pt, err)
	}
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)/2] ^= 1
	for name, c := range map[string]struct {
		key    string
		sealed []byte
	}{
		"renamed part":   {"backups/billing/1/part-0-00001.ndjson.gz.enc", sealed},
		"flipped bit":    {"backups/billing/1/part-0-00000.ndjson.gz.enc", flipped},
		"truncated part": {"backups/billing/1/part-0-00000.ndjson.gz.enc", sealed[:10]},
	} {
		if _, err := k.open(c.key, c.sealed); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: open error %v, want ErrTampered", name, err)
		}
	}
}
