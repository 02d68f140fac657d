package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// maxMembers caps top-level members per JSON object; real tokens carry about 20.
const maxMembers = 64

// checkObject rejects what encoding/json would quietly accept and another
// parser might read differently: a non-object, invalid UTF-8 (replaced with
// U+FFFD), duplicate members (last wins), members differing only in case
// (matched case-insensitively) and escaped member names ("\u0061lg" is
// "alg"). It runs on every header and payload, so it allocates nothing: once
// json.Valid has accepted b, finding the top-level member names only needs
// string and nesting boundaries.
func checkObject(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	if !json.Valid(b) {
		return errors.New("bad JSON")
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not an object")
	}
	var names [maxMembers][]byte
	n, depth := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end, escaped := stringEnd(b, i)
			// In valid JSON, a string directly inside the top-level object that is followed by a
			// colon is a member name.
			if depth == 1 && bytes.HasPrefix(bytes.TrimLeft(b[end+1:], " \t\r\n"), []byte{':'}) {
				if escaped {
					return errors.New("escaped member name")
				}
				name := b[i+1 : end]
				for _, seen := range names[:n] {
					if bytes.EqualFold(seen, name) {
						return errors.New("duplicate member")
					}
				}
				if n == maxMembers {
					return errors.New("too many members")
				}
				names[n], n = name, n+1
			}
			i = end
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the JSON string that opens at b[start], and
// whether the string contains an escape.
func stringEnd(b []byte, start int) (end int, escaped bool) {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i, escaped
		}
	}
	return len(b) - 1, escaped // unreachable for valid JSON
}
