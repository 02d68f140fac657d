package clock

import (
	"testing"
	"time"
)

func TestNow(t *testing.T) {
	fixed := time.Date(2026, 11, 29, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	if got := Func(func() time.Time { return fixed }).Now(); !got.Equal(fixed) || got.Location() != time.UTC {
		t.Errorf("a set clock tells %v, want %v in UTC", got, fixed)
	}
	before := time.Now()
	if got := Func(nil).Now(); got.Before(before) || got.Location() != time.UTC {
		t.Errorf("the zero clock tells %v, want the system time in UTC", got)
	}
}
