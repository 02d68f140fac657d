package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/vaultbill/vaultbill/shared/problem"
)

// duplicateField finds the first object member, at any depth of body, whose name repeats an earlier
// member of the same object exactly or in another case. encoding/json keeps the last of two equal names
// and matches names case-insensitively, so {"amount":1,"Amount":9} would otherwise be read as 9 here
// while a proxy, a WAF or a log reader may have judged the request by the 1 (DESIGN §5: duplicate and
// case-variant fields are rejected). It returns "" for a body without one; syntax errors are left to
// the decoder.
func duplicateField(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	name, _ := scanValue(dec)
	return name
}

var errStop = errors.New("stop")

// scanValue reads one JSON value from dec and returns the first duplicate member name inside it.
func scanValue(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return "", nil
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return "", err
			}
			name, _ := key.(string)
			folded := strings.ToLower(name)
			if seen[folded] {
				return name, errStop
			}
			seen[folded] = true
			if dup, err := scanValue(dec); dup != "" || err != nil {
				return dup, err
			}
		}
	case '[':
		for dec.More() {
			if dup, err := scanValue(dec); dup != "" || err != nil {
				return dup, err
			}
		}
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) { // the closing delimiter
		return "", err
	}
	return "", nil
}

// duplicateError is the 400 of a body with a repeated member name.
func duplicateError(name string) error {
	e := problem.Malformed("The request body repeats a field (names are compared regardless of case).")
	e.Fields = []problem.FieldError{{Field: name, Message: "duplicate field"}}
	return e
}
