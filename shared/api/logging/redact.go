package logging

import (
	"regexp"
	"strings"
)

// Replacement markers. They name the kind of secret that was removed so an
// operator reading a log line knows why a value is missing, without learning
// anything about the value itself.
const (
	panMark      = "[REDACTED:PAN]"
	jwtMark      = "[REDACTED:JWT]"
	keyMark      = "[REDACTED:KEY]"
	redactedMark = "[REDACTED]"
)

// PAN lengths per ISO/IEC 7812.
const (
	minPANDigits = 13
	maxPANDigits = 19
)

const pemBegin = "-----BEGIN"

// Redact returns s with card numbers (PANs), JWTs, bearer tokens and PEM
// blocks replaced by markers such as "[REDACTED:PAN]".
//
// A PAN is a run of 13–19 digits that passes the Luhn check; the digits may
// be grouped with single spaces or dashes ("4242 4242 4242 4242"). Runs longer
// than 19 digits are searched for any Luhn-valid 13–19 digit window, because
// a PAN glued to other digits is still a PAN. Digit runs that are shorter, or
// not Luhn-valid, are left alone so order numbers, dates and amounts survive.
//
// Redaction errs on the side of removing too much: a Luhn-valid number that
// merely looks like a PAN is removed too, since a false positive costs a log
// field while a false negative is a PCI DSS incident.
//
// Strings with nothing to redact are returned as is, without allocating, so
// calling Redact on every log field is cheap.
func Redact(s string) string {
	r := redactor{s: s}
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case isDigit(c):
			i = r.digitRun(i)
		case c == '-' && strings.HasPrefix(s[i:], pemBegin):
			i = r.pem(i)
		case c == 'e' && strings.HasPrefix(s[i:], "eyJ"):
			if end, ok := jwtEnd(s, i); ok {
				r.replace(i, end, jwtMark)
				i = end
			} else {
				i++
			}
		case (c == 'B' || c == 'b') && len(s)-i >= 6 && strings.EqualFold(s[i:i+6], "bearer"):
			// The scheme name is case-insensitive in HTTP (RFC 9110), so
			// "bearer x" leaks as much as "Bearer x" does.
			i = r.bearer(i + 6)
		default:
			i++
		}
	}
	return r.result()
}

// redactor builds the redacted string lazily: out stays nil until the first
// replacement, which is what keeps the clean path allocation-free.
type redactor struct {
	s    string
	out  []byte
	last int // s[last:] has not been copied to out yet
}

func (r *redactor) replace(start, end int, mark string) {
	if r.out == nil {
		r.out = make([]byte, 0, len(r.s))
	}
	r.out = append(r.out, r.s[r.last:start]...)
	r.out = append(r.out, mark...)
	r.last = end
}

func (r *redactor) result() string {
	if r.out == nil {
		return r.s
	}
	return string(append(r.out, r.s[r.last:]...))
}

// pem redacts from "-----BEGIN" at i through the closing dashes of the
// matching "-----END ...-----". A block with no end (for example a log line
// truncated by a size limit) is redacted to the end of the string: partial
// key material is still key material.
func (r *redactor) pem(i int) int {
	s := r.s
	end := len(s)
	if j := strings.Index(s[i+len(pemBegin):], "-----END"); j >= 0 {
		j += i + len(pemBegin) + len("-----END")
		if k := strings.Index(s[j:], "-----"); k >= 0 {
			end = j + k + len("-----")
		}
	}
	r.replace(i, end, keyMark)
	return end
}

// bearer redacts the credential that follows a "Bearer" scheme name ending
// just before i. It keeps the scheme so the log still shows which kind of
// authorization was presented.
func (r *redactor) bearer(i int) int {
	s := r.s
	j := i
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if j == i {
		return i // "Bearer" not followed by whitespace: not an auth header
	}
	k := j
	for k < len(s) && !endsBearerToken(s[k]) {
		k++
	}
	if k == j {
		return j
	}
	r.replace(i, k, " "+redactedMark)
	return k
}

// endsBearerToken reports whether c cannot be part of a bearer credential.
// Besides whitespace it stops at quotes and backslashes, which RFC 6750
// tokens never contain, so a header embedded in a JSON string keeps its
// closing quote.
func endsBearerToken(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '\\':
		return true
	}
	return false
}

// jwtEnd reports where the JWT starting at i ends: three or more base64url
// segments separated by dots (five for an encrypted JWE). The last segment
// may be empty, as it is for an unsigned ("alg":"none") token.
func jwtEnd(s string, i int) (int, bool) {
	e := b64urlEnd(s, i)
	if e >= len(s) || s[e] != '.' {
		return 0, false
	}
	e2 := b64urlEnd(s, e+1)
	if e2 == e+1 || e2 >= len(s) || s[e2] != '.' {
		return 0, false
	}
	end := b64urlEnd(s, e2+1)
	for end < len(s)-1 && s[end] == '.' {
		next := b64urlEnd(s, end+1)
		if next == end+1 {
			break
		}
		end = next
	}
	return end, true
}

func b64urlEnd(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '-' || c == '_' {
			i++
			continue
		}
		break
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isSeparator reports whether c may sit between two digit groups of a PAN
// as people and systems commonly write them.
func isSeparator(c byte) bool { return c == ' ' || c == '-' }

// digitRun handles the run of digits starting at i, where groups of digits
// may be joined by single separators, and returns the index just past it.
func (r *redactor) digitRun(i int) int {
	s := r.s
	// First pass: measure the run without allocating; nearly every run in
	// a log line is too short to be a PAN.
	n, j := 0, i
	for {
		for j < len(s) && isDigit(s[j]) {
			j++
			n++
		}
		if j+1 < len(s) && isSeparator(s[j]) && isDigit(s[j+1]) {
			j++
			continue
		}
		break
	}
	end := j
	if n < minPANDigits {
		return end
	}

	// Second pass: record each digit and where it sits in s. The fixed
	// arrays keep typical runs on the stack.
	var (
		dBuf [64]byte
		pBuf [64]int
		cBuf [64]bool
	)
	digits, pos, covered := dBuf[:0], pBuf[:0], cBuf[:0]
	if n > len(dBuf) {
		digits, pos, covered = make([]byte, 0, n), make([]int, 0, n), make([]bool, 0, n)
	}
	for k := i; k < end; k++ {
		if isDigit(s[k]) {
			digits = append(digits, s[k]-'0')
			pos = append(pos, k)
			covered = append(covered, false)
		}
	}

	// Mark every digit that belongs to a Luhn-valid window. Covering the
	// union of all windows guarantees a real PAN is removed completely even
	// if a spurious window overlaps it.
	found := false
	mark := func(a, b int) {
		found = true
		for k := a; k < b; k++ {
			covered[k] = true
		}
	}
	if n <= maxPANDigits {
		// Within PAN length, only windows made of whole digit groups count:
		// "qty 2 4242 4242 4242 4242" must lose the card number, but a
		// non-Luhn 16 digit reference must not lose a Luhn-valid 13 digit
		// slice of itself.
		for a := 0; a < n; a++ {
			if a > 0 && pos[a] == pos[a-1]+1 {
				continue // not the start of a group
			}
			for b := a + minPANDigits; b <= n && b <= a+maxPANDigits; b++ {
				if b < n && pos[b] == pos[b-1]+1 {
					continue // not the end of a group
				}
				if cardLike(digits[a:b]) {
					mark(a, b)
				}
			}
		}
	} else {
		for a := 0; a+minPANDigits <= n; a++ {
			for b := a + minPANDigits; b <= n && b <= a+maxPANDigits; b++ {
				if cardLike(digits[a:b]) {
					mark(a, b)
				}
			}
		}
	}
	if !found {
		return end
	}
	for a := 0; a < n; {
		if !covered[a] {
			a++
			continue
		}
		b := a
		for b < n && covered[b] {
			b++
		}
		r.replace(pos[a], pos[b-1]+1, panMark)
		a = b
	}
	return end
}

// cardLike reports whether a window of 13 to 19 digits (values, not ASCII) can be a card number: it
// passes the Luhn check and, when it starts with zeros, what follows them is itself long enough and
// starts as a card number does. Zeros in front are padding of a fixed-width field, which still hides
// a card number behind them; but no card number starts with 0 or 1 (ISO/IEC 7812 gives no card network
// those major industry identifiers; 1 is the airlines'), and AWS writes zero-padded millisecond times
// into identifiers (a DynamoDB backup ARN ends in one), which must not read as card numbers.
func cardLike(d []byte) bool {
	z := 0
	for z < len(d) && d[z] == 0 {
		z++
	}
	if z > 0 && (len(d)-z < minPANDigits || d[z] < 2) {
		return false
	}
	return luhn(d)
}

// luhn reports whether d (digit values, not ASCII) passes the Luhn
// checksum that every payment card number carries.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k])
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// ContainsPAN reports whether s holds a card number, by the rule Redact removes them with: a
// Luhn-valid run of 13–19 digits, possibly grouped by single spaces or dashes. It lets a sink that
// must never store one (the audit writer) tell a leak from text that is already clean.
func ContainsPAN(s string) bool {
	r := redactor{s: s}
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		if i = r.digitRun(i); r.out != nil {
			return true
		}
	}
	return false
}

// uuidText matches the canonical text of a UUID, the shape AWS gives request ids and KMS key ids.
var uuidText = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// ContainsPANOutsideUUIDs is ContainsPAN over s with its UUIDs left out. About one random UUID in 300
// has dash-joined decimal groups that pass the Luhn check; Redact masks them as it masks any card
// number, and a sink that alerts on card numbers asks this to tell such an id from a card number. A
// UUID that a letter or digit touches is no UUID: a card number glued to one is still found.
func ContainsPANOutsideUUIDs(s string) bool {
	b := []byte(s)
	for _, m := range uuidText.FindAllStringIndex(s, -1) {
		if (m[0] > 0 && isAlnum(s[m[0]-1])) || (m[1] < len(s) && isAlnum(s[m[1]])) {
			continue
		}
		for i := m[0]; i < m[1]; i++ {
			b[i] = 'x'
		}
	}
	return ContainsPAN(string(b))
}

func isAlnum(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
