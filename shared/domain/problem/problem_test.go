package problem

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		err  *Error
		want int
	}{
		{New(NotFound, "x"), http.StatusNotFound},
		{Invalid(FieldError{"a", "b"}), http.StatusUnprocessableEntity},
		{Malformed("bad json"), http.StatusBadRequest},
		{New(MFARequired, "x"), http.StatusForbidden},
		{New(CardDeclined, "x"), http.StatusPaymentRequired},
		{New(PayloadTooLarge, "x"), http.StatusRequestEntityTooLarge},
		{New(IdempotencyKeyInUse, "x"), http.StatusConflict},
		{New(ServiceUnavailable, "x"), http.StatusServiceUnavailable},
		{New(RateLimited, "x"), http.StatusTooManyRequests},
		{New(Code("made_up"), "x"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got := tt.err.Status(); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.err.Code, got, tt.want)
		}
	}
}

func TestFromHidesUnexpectedErrors(t *testing.T) {
	cause := errors.New("dynamodb: table vaultbill-billing: connection reset")
	e := From(fmt.Errorf("get invoice in_1: %w", cause))
	if e.Code != Internal || e.Status() != 500 {
		t.Fatalf("got %s %d, want internal 500", e.Code, e.Status())
	}
	if e.Detail != "An internal error occurred." {
		t.Errorf("detail leaks internals: %q", e.Detail)
	}
	if !errors.Is(e, cause) {
		t.Error("cause must stay reachable for the log")
	}
	wrapped := fmt.Errorf("context: %w", New(NotFound, "No such invoice."))
	if got := From(wrapped); got.Code != NotFound {
		t.Errorf("wrapped problem lost its code: %s", got.Code)
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{0: 1, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 10 * time.Minute: 600} {
		if got := Seconds(d); got != want {
			t.Errorf("Seconds(%s) = %d, want %d", d, got, want)
		}
	}
}
