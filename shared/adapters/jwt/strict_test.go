package jwt

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheckObject(t *testing.T) {
	many := func(n int) string {
		var m []string
		for i := range n {
			m = append(m, fmt.Sprintf(`"m%d":%d`, i, i))
		}
		return "{" + strings.Join(m, ",") + "}"
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"alg":"RS256","kid":"k1"}`, true},
		{` {"a" : "x:y", "b":"\"c\":", "c":[{"a":1,"a":2}], "d":{"a":1}}`, true}, // only top-level names count
		{`{"aud":["a","b"],"amr":["pwd","mfa"]}`, true},
		{many(maxMembers), true},
		{many(maxMembers + 1), false},
		{`{"a":1,"b":2,"a":3}`, false},
		{`{"Kid":"x","kid":"y"}`, false},
		{`{"k\u0069d":"x"}`, false},
		{`{"a":1}x`, false},
		{`[{"a":1}]`, false},
		{`"a"`, false},
		{"{\"a\":\"\xff\"}", false},
	} {
		if err := checkObject([]byte(tc.in)); (err == nil) != tc.ok {
			t.Errorf("checkObject(%.40q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
