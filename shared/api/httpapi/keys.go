package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"unicode"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// checkBody walks the JSON body b alongside the Go type it is decoded into and refuses what
// encoding/json would let through silently:
//   - a key repeated in one object, or spelt in another case than the documented one: Go's decoder
//     matches keys case-insensitively and keeps the last duplicate, so {"name":"A","Name":"B"} would
//     store B while a reviewer, a WAF rule or a log reader sees A;
//   - a card number anywhere but in a CardNumberField (card.PAN): in an id, a name, a memo or a map
//     key it would be stored, logged and audited in clear;
//   - an id field (ids.ForField) whose value is not an id of its kind.
//
// Errors name the field (redacted) but never the value.
func checkBody(b []byte, t reflect.Type) error {
	w := walker{dec: json.NewDecoder(bytes.NewReader(b))}
	w.dec.UseNumber()
	return w.value(t, "", "")
}

type walker struct {
	dec   *json.Decoder
	depth int
}

// maxDepth bounds the nesting of a body: the API's deepest is three levels, and the walk recurses.
const maxDepth = 32

// CardNumberField is implemented by the one kind of body field that may carry a card number
// (card.PAN): the walk leaves its value alone.
type CardNumberField interface{ IsCardNumberField() }

// ValueTyper is implemented by a type that reads its JSON as another type (billing.Optional[T] reads
// a T); the walk checks the value against that type.
type ValueTyper interface{ JSONValueType() reflect.Type }

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	cardNumberType      = reflect.TypeFor[CardNumberField]()
	valueTyperType      = reflect.TypeFor[ValueTyper]()
)

// implements reports whether t or *t implements iface.
func implements(t, iface reflect.Type) bool {
	return t != nil && (t.Implements(iface) || reflect.PointerTo(t).Implements(iface))
}

// resolve returns the type a value of t is checked against: t itself, the type a ValueTyper reads,
// or nil (any JSON, checked generically) for a type that reads its own JSON in a way the walk cannot
// follow. skip reports a card number field.
func resolve(t reflect.Type) (_ reflect.Type, skip bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil:
		return nil, false
	case implements(t, cardNumberType):
		return nil, true
	case implements(t, valueTyperType):
		return resolve(reflect.New(t).Interface().(ValueTyper).JSONValueType())
	case implements(t, unmarshalerType), implements(t, textUnmarshalerType):
		return nil, false
	}
	return t, false
}

// value reads one JSON value that decodes into t (nil: any). name is the key it sits under, path its
// location for error messages.
func (w *walker) value(t reflect.Type, name, path string) error {
	if w.depth++; w.depth > maxDepth {
		return problem.Malformed("The request body is nested too deeply.")
	}
	defer func() { w.depth-- }()
	t, skip := resolve(t)
	tok, err := w.dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	if skip {
		return w.skip(tok)
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return w.object(t, path)
		case '[':
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for w.dec.More() {
				if err := w.value(elem, name, path); err != nil {
					return err
				}
			}
			_, err := w.dec.Token() // ']'
			return syntaxError(err)
		}
	case json.Number:
		// An amount or a quantity is never 13 to 19 digits that pass the Luhn check; a card number
		// typed into one would be stored as a number.
		if logging.ContainsPAN(v.String()) {
			return fieldError(path, "must not be a card number")
		}
	case string:
		if logging.ContainsPAN(v) {
			return fieldError(path, "must not contain a card number")
		}
		if prefix, ok := ids.ForField(name); ok && v != "" && !ids.Valid(prefix, v) {
			return fieldError(path, "is not a well-formed "+ids.Kind(prefix)+" id")
		}
	}
	return nil
}

// object reads the members of an object after its '{'.
func (w *walker) object(t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = jsonFields(t)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	case t.Kind() == reflect.Interface:
	default:
		t = nil // a type error the decoder reports
	}
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		key, _ := tok.(string)
		at := join(path, key)
		if logging.ContainsPAN(key) {
			return fieldError(at, "must not contain a card number")
		}
		folded := fold(key)
		if seen[folded] {
			return fieldError(at, "appears more than once (field names are case-sensitive and unique)")
		}
		seen[folded] = true
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[key]; !ok {
				return fieldError(key, "unknown field") // named as encoding/json names it
			}
		}
		if err := w.value(ft, key, at); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return syntaxError(err)
}

// skip reads past the rest of a value whose first token was tok.
func (w *walker) skip(tok json.Token) error {
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		for depth := 1; depth > 0; {
			tok, err := w.dec.Token()
			if err != nil {
				return syntaxError(err)
			}
			if d, ok := tok.(json.Delim); ok {
				if d == '{' || d == '[' {
					depth++
				} else {
					depth--
				}
			}
		}
	}
	return nil
}

// jsonFields lists the keys encoding/json maps to t's fields, spelt exactly, with their types.
// Fields of embedded structs are promoted as encoding/json promotes them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}

// fold maps s to one spelling per case-insensitive class, using the simple Unicode folding that
// encoding/json matches keys with (so "K" and the Kelvin sign "K" fold together).
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldError(path, msg string) error {
	e := problem.Malformed("The request body has an invalid field.")
	e.Fields = []problem.FieldError{{Field: logging.Redact(path), Message: msg}}
	return e
}

func syntaxError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return problem.Malformed("The request body is not valid JSON.")
	}
	return decodeError(err)
}
