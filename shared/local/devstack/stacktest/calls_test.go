package stacktest

import (
	"slices"
	"testing"
)

func TestExceeding(t *testing.T) {
	want := map[string]int{"GetItem": 2, "TransactWriteItems": 1}
	for _, tt := range []struct {
		name string
		got  map[string]int
		over []string
	}{
		{"exactly the bound", map[string]int{"GetItem": 2, "TransactWriteItems": 1}, nil},
		{"fewer calls", map[string]int{"GetItem": 1}, nil},
		{"one call more", map[string]int{"GetItem": 3, "TransactWriteItems": 1}, []string{"3 GetItem (at most 2)"}},
		{"a call not in the table", map[string]int{"Query": 1}, []string{"1 Query (at most 0)"}},
	} {
		if got := Exceeding(want, tt.got); !slices.Equal(got, tt.over) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.over)
		}
	}
}
