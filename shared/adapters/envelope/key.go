package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// Key is one unwrapped AES-256-GCM data key: the single construction behind every sealed byte of
// Vaultbill (card data in the vault, backup parts and manifests). Its output is
// nonce(12) || ciphertext || tag(16), with a fresh random nonce per message.
type Key struct{ aead cipher.AEAD }

// KeyOverhead is what sealing adds to a message.
const KeyOverhead = nonceSize + 16

// NewKey builds a Key from a 32-byte data key. The caller keeps and zeroes plain; the AES key
// schedule inside the Key cannot be reached from Go and is dropped with it.
func NewKey(plain []byte) (*Key, error) {
	if len(plain) != 32 {
		return nil, fmt.Errorf("data key is %d bytes, want 32", len(plain))
	}
	block, err := aes.NewCipher(plain)
	if err != nil {
		return nil, fmt.Errorf("data key cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("data key GCM: %w", err)
	}
	return &Key{aead: aead}, nil
}

// Seal appends nonce || ciphertext || tag of plaintext, authenticated with additional data ad, to dst.
func (k *Key) Seal(dst, plaintext, ad []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, make([]byte, nonceSize)...)
	if _, err := rand.Read(dst[n:]); err != nil {
		return nil, fmt.Errorf("envelope nonce: %w", err)
	}
	return k.aead.Seal(dst, dst[n:], plaintext, ad), nil
}

// Open authenticates and decrypts a message sealed with ad; anything else is ErrOpen.
func (k *Key) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < KeyOverhead {
		return nil, ErrOpen
	}
	plain, err := k.aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
