package userpool

import (
	"crypto/rand"
	"math/big"
)

// TemporaryPassword returns a random password that meets the pool's policy (resources.Users): 20
// random characters from the four classes, at least one of each.
func TemporaryPassword() string {
	classes := []string{"abcdefghijkmnopqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "!#%+-=?@^_"}
	all := classes[0] + classes[1] + classes[2] + classes[3]
	b := make([]byte, 0, 20)
	for _, c := range classes {
		b = append(b, c[randN(len(c))])
	}
	for len(b) < cap(b) {
		b = append(b, all[randN(len(all))])
	}
	for i := len(b) - 1; i > 0; i-- { // the class-guaranteed characters must not sit in known places
		j := randN(i + 1)
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func randN(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return int(v.Int64())
}
