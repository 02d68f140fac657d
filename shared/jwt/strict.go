package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// maxMembers caps top-level members per JSON object; real tokens carry about 20.
const maxMembers = 64

// checkObject rejects what encoding/json would quietly accept and another
// parser might read differently: a non-object, invalid UTF-8 (replaced with
// U+FFFD), duplicate members (last wins), members differing only in case
// (matched case-insensitively) and escaped member names ("\u0061lg" is
// "alg"). It walks the top level with encoding/json's tokenizer.
func checkObject(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not an object")
	}
	names := make([]string, 0, 24)
	for dec.More() {
		from := dec.InputOffset() // end of the previous value: only "," and spaces precede the name
		t, err := dec.Token()
		if err != nil {
			return errors.New("bad JSON")
		}
		name, _ := t.(string)
		if bytes.IndexByte(b[from:dec.InputOffset()], '\\') >= 0 {
			return errors.New("escaped member name")
		}
		for _, seen := range names {
			if strings.EqualFold(seen, name) {
				return errors.New("duplicate member")
			}
		}
		if len(names) == maxMembers {
			return errors.New("too many members")
		}
		names = append(names, name)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errors.New("bad JSON")
		}
	}
	return nil
}
