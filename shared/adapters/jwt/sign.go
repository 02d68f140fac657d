package jwt

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	jwtlib "github.com/golang-jwt/jwt/v5"
)

// keyFileName is where LoadOrCreateKey keeps the signing key inside dir.
const keyFileName = "jwt-signing-key.pem"

// Sign mints a compact RS256 JWS over claims, for the local stack. Claims
// are not checked: tests need to mint expired or otherwise bad tokens.
func Sign(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	if key == nil || key.N.BitLen() < minKeyBits {
		return "", errors.New("jwt: signing key must be RSA of at least 2048 bits")
	}
	t := jwtlib.NewWithClaims(jwtlib.SigningMethodRS256, jwtlib.MapClaims(claims))
	t.Header["kid"] = kid
	token, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("jwt: sign: %w", err)
	}
	if len(token) > maxTokenLen { // Verify would refuse it
		return "", errors.New("jwt: token exceeds 8 KiB")
	}
	return token, nil
}

// LoadOrCreateKey returns the local stack's signing key from dir/jwt-signing-key.pem,
// generating a 2048-bit key on first use, and its kid: unpadded base64url of
// the first 16 bytes of SHA-256 over the PKIX DER public key, so the kid
// changes whenever the key does. Like ssh, it refuses a key file that group
// or others can read.
func LoadOrCreateKey(dir string) (*rsa.PrivateKey, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, keyFileName)
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(der)
	return key, b64.EncodeToString(sum[:16]), nil
}

func readKey(path string) (*rsa.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("jwt: %s is accessible by others; chmod 600 it", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("jwt: %s: no PKCS#8 PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwt: %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok || rk.N.BitLen() < minKeyBits {
		return nil, fmt.Errorf("jwt: %s: not an RSA key of at least 2048 bits", path)
	}
	return rk, nil
}

func createKey(path string) (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, minKeyBits)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	// O_EXCL: if another process created the key first, use that one rather
	// than overwrite a key whose tokens are already in flight.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKey(path)
	}
	if err != nil {
		return nil, err
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return key, nil
}

// WriteJWKS publishes jwks at path, replacing it atomically so a reader
// (FileKeySource) never sees a half-written set. The file is world-readable:
// it holds public keys only.
func WriteJWKS(path string, jwks JWKS) (err error) {
	b, err := json.MarshalIndent(jwks, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".jwks-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	return err
}
