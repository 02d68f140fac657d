// Package clock is the one source of the time for every component that reads it: a Clock field of
// type clock.Func, nil in production (the system clock), a fixed or stepping time in tests.
package clock

import "time"

// Func returns the current time. The zero value is the system clock.
type Func func() time.Time

// Now is the time f tells, in UTC; the system clock's when f is nil.
func (f Func) Now() time.Time {
	if f == nil {
		return time.Now().UTC()
	}
	return f().UTC()
}
