package logging

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strconv"
)

// NewRedactingHandler returns a handler that redacts every record before
// passing it to next. It applies Redact to the message and to every string
// it can find in attribute values, replaces values under a SensitiveKey with
// "[REDACTED]", and does the same for attributes added through WithAttrs and
// for nested groups.
//
// Values are normalised before redaction so that what is checked is what
// gets written: LogValuers are resolved, errors become err.Error(),
// fmt.Stringers become String(), and any other non-scalar value is
// marshalled with encoding/json and replaced by its decoded, cleaned form
// (with SensitiveKey applied to object keys at every depth). Raw []byte
// values are dropped, because binary key material cannot be recognised by
// content. Integers and floats that spell a PAN are redacted as well.
//
// A record with nothing to redact is passed to next untouched.
func NewRedactingHandler(next slog.Handler) slog.Handler {
	return &redactingHandler{next: next}
}

type redactingHandler struct {
	next slog.Handler
	// sensitiveGroup is set once the handler is inside a WithGroup whose
	// name is a SensitiveKey; every attribute below it is then redacted,
	// just as slog.Group("password", ...) is.
	sensitiveGroup bool
}

func (h *redactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := Redact(r.Message)
	dirty := msg != r.Message

	// Most records carry a handful of attributes; a fixed array keeps the
	// redacted copies on the stack.
	var buf [8]slog.Attr
	attrs := buf[:0]
	r.Attrs(func(a slog.Attr) bool {
		ra, changed := h.redact(a)
		dirty = dirty || changed
		attrs = append(attrs, ra)
		return true
	})
	if !dirty {
		return h.next.Handle(ctx, r)
	}
	nr := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	nr.AddAttrs(attrs...)
	return h.next.Handle(ctx, nr)
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i], _ = h.redact(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(clean), sensitiveGroup: h.sensitiveGroup}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &redactingHandler{
		next:           h.next.WithGroup(Redact(name)),
		sensitiveGroup: h.sensitiveGroup || SensitiveKey(name),
	}
}

func (h *redactingHandler) redact(a slog.Attr) (slog.Attr, bool) {
	if h.sensitiveGroup && !a.Equal(slog.Attr{}) {
		return redactAll(a), true
	}
	return redactAttr(a)
}

// redactAll replaces every leaf value under a with the redaction marker,
// keeping group structure so the output keeps its shape.
func redactAll(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() != slog.KindGroup {
		return slog.String(Redact(a.Key), redactedMark)
	}
	group := v.Group()
	out := make([]slog.Attr, len(group))
	for i, g := range group {
		out[i] = redactAll(g)
	}
	return slog.Attr{Key: Redact(a.Key), Value: slog.GroupValue(out...)}
}

// redactAttr returns a with its key and value redacted, and whether
// anything differs from a. Callers use the flag to avoid rebuilding records
// that were already clean.
func redactAttr(a slog.Attr) (slog.Attr, bool) {
	key := Redact(a.Key)
	changed := key != a.Key
	if SensitiveKey(a.Key) {
		return slog.String(key, redactedMark), true
	}
	v := a.Value
	if v.Kind() == slog.KindLogValuer {
		// Hand the resolved value on: a LogValuer may return something
		// different the next time the downstream handler resolves it, and
		// that version would never have been checked.
		v = v.Resolve()
		changed = true
	}
	nv, vchanged := redactValue(v)
	if !changed && !vchanged {
		return a, false
	}
	return slog.Attr{Key: key, Value: nv}, true
}

func redactValue(v slog.Value) (slog.Value, bool) {
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if r := Redact(s); r != s {
			return slog.StringValue(r), true
		}
	case slog.KindInt64:
		return redactInt(v, v.Int64())
	case slog.KindUint64:
		if u := v.Uint64(); u >= 1e12 {
			return redactNumber(v, strconv.FormatUint(u, 10))
		}
	case slog.KindFloat64:
		return redactFloat(v, v.Float64())
	case slog.KindGroup:
		return redactGroup(v)
	case slog.KindAny:
		return redactAny(v.Any())
	}
	return v, false
}

func redactGroup(v slog.Value) (slog.Value, bool) {
	group := v.Group()
	var out []slog.Attr // allocated on the first change only
	for i, a := range group {
		ra, changed := redactAttr(a)
		if changed && out == nil {
			out = make([]slog.Attr, len(group))
			copy(out, group[:i])
		}
		if out != nil {
			out[i] = ra
		}
	}
	if out == nil {
		return v, false
	}
	return slog.GroupValue(out...), true
}

// panFloor is the smallest 13 digit number; anything below it cannot be a
// PAN, which lets the common case skip formatting.
const panFloor = 1e12

func redactInt(v slog.Value, n int64) (slog.Value, bool) {
	if n < panFloor && n > -panFloor {
		return v, false
	}
	return redactNumber(v, strconv.FormatInt(n, 10))
}

func redactFloat(v slog.Value, f float64) (slog.Value, bool) {
	if math.Abs(f) < panFloor || math.Abs(f) >= 1e20 || f != math.Trunc(f) {
		return v, false
	}
	return redactNumber(v, strconv.FormatFloat(f, 'f', -1, 64))
}

// redactNumber replaces a number whose decimal form contains a PAN with the
// PAN marker; a card number stored as an integer is still a card number.
func redactNumber(v slog.Value, digits string) (slog.Value, bool) {
	if r := Redact(digits); r != digits {
		return slog.StringValue(r), true
	}
	return v, false
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// redactAny normalises an arbitrary value into something that has been
// checked in the exact form the downstream handler will write.
func redactAny(x any) (slog.Value, bool) {
	switch t := x.(type) {
	case nil:
		return slog.AnyValue(nil), false
	case error:
		return slog.StringValue(Redact(safeString(t.Error))), true
	case fmt.Stringer:
		return slog.StringValue(Redact(safeString(t.String))), true
	case json.RawMessage:
		return cleanJSON(t)
	case []byte:
		// Data keys and other binary secrets are []byte; json would write
		// them as base64, which content redaction cannot see through.
		return slog.StringValue(fmt.Sprintf("[REDACTED:BYTES len=%d]", len(t))), true
	}

	// Named scalar types (type Cents int64, type Status string) are common
	// and need no JSON round trip unless they customise their encoding.
	rv := reflect.ValueOf(x)
	if !rv.Type().Implements(jsonMarshalerType) && !rv.Type().Implements(textMarshalerType) {
		v := slog.AnyValue(x)
		switch rv.Kind() {
		case reflect.Bool:
			return v, false
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return redactInt(v, rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			if u := rv.Uint(); u >= panFloor {
				return redactNumber(v, strconv.FormatUint(u, 10))
			}
			return v, false
		case reflect.Float32, reflect.Float64:
			return redactFloat(v, rv.Float())
		case reflect.String:
			s := rv.String()
			if r := Redact(s); r != s {
				return slog.StringValue(r), true
			}
			return v, false
		}
	}

	data, err := json.Marshal(x)
	if err != nil {
		// Printing the value with fmt instead could expose fields (a CVC,
		// say) that no rule can recognise, so only the type is logged.
		return slog.StringValue(fmt.Sprintf("[UNLOGGABLE %T]", x)), true
	}
	return cleanJSON(data)
}

// safeString calls f, tolerating the panic a nil pointer receiver causes.
func safeString(f func() string) (s string) {
	defer func() {
		if recover() != nil {
			s = "<nil>"
		}
	}()
	return f()
}

// cleanJSON decodes data and returns its cleaned form. The result replaces
// the original value even when nothing was redacted: a downstream handler
// other than JSON (a text handler, say) would print the original with fmt,
// which can show fields that JSON hides and were therefore never checked.
func cleanJSON(data []byte) (slog.Value, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep large integers exact so PAN checks see every digit
	var x any
	if err := dec.Decode(&x); err != nil {
		return slog.StringValue(Redact(string(data))), true
	}
	if s, ok := x.(string); ok {
		return slog.StringValue(Redact(s)), true
	}
	return slog.AnyValue(cleanDecoded(x)), true
}

// cleanDecoded applies the redaction rules to a value produced by
// encoding/json, recursing through objects and arrays.
func cleanDecoded(x any) any {
	switch t := x.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			if SensitiveKey(k) {
				out[Redact(k)] = redactedMark
				continue
			}
			out[Redact(k)] = cleanDecoded(v)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			out[i] = cleanDecoded(v)
		}
		return out
	case string:
		return Redact(t)
	case json.Number:
		if r := Redact(string(t)); r != string(t) {
			return r
		}
		return t
	default:
		return t
	}
}
