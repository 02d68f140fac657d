package logging

// sensitiveKeys holds normalised attribute keys (lower case, no '_' or '-')
// whose values are never logged, whatever they contain. Content-based
// redaction cannot catch these: a CVC or a password looks like any other
// short string or number.
//
// "token" is deliberately absent: in Vaultbill it names the vault token id
// (tok_...), which exists precisely so it can be logged instead of the PAN.
// "key" is absent too: it is used for cache, idempotency and S3 object keys.
var sensitiveKeys = map[string]struct{}{
	// Card security codes and the card number itself.
	"cvc": {}, "cvv": {}, "cvv2": {}, "cvc2": {}, "cid": {}, "securitycode": {},
	"number": {}, "cardnumber": {}, "pan": {},
	// Sensitive authentication data that PCI DSS 3.3 forbids storing.
	"pin": {}, "pinblock": {}, "track1": {}, "track2": {}, "trackdata": {},
	// Credentials.
	"password": {}, "secret": {}, "clientsecret": {}, "authorization": {}, "cookie": {},
	"jwt": {}, "idtoken": {}, "accesstoken": {}, "refreshtoken": {}, "sessiontoken": {},
	"apikey": {}, "xapikey": {}, "secretkey": {}, "secretaccesskey": {},
	// Key material from KMS envelope encryption.
	"plaintext": {}, "plaintextkey": {}, "datakey": {}, "privatekey": {}, "keymaterial": {},
}

// maxSensitiveKeyLen bounds the normalisation buffer; longer keys cannot be
// in sensitiveKeys, so they are rejected without allocating.
const maxSensitiveKeyLen = 32

// SensitiveKey reports whether values logged under the attribute or JSON
// object key name must be replaced by "[REDACTED]" regardless of their
// content. Matching ignores case, '_' and '-', so "CVC", "card_number" and
// "Card-Number" all match.
//
// The set covers card data (cvc, cvv, cvv2, cvc2, cid, securitycode, number,
// cardnumber, pan, pin and track data), credentials (password, secret,
// authorization, jwt, idtoken, accesstoken, refreshtoken, apikey, secretkey
// and similar) and key material (plaintext, plaintextkey, datakey,
// privatekey). It does not include "token", which is Vaultbill's loggable
// vault token id, nor plain "key".
func SensitiveKey(name string) bool {
	var buf [maxSensitiveKeyLen]byte
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if n == len(buf) {
			return false
		}
		buf[n] = c
		n++
	}
	// The compiler turns this conversion into a lookup without allocating.
	_, ok := sensitiveKeys[string(buf[:n])]
	return ok
}
