package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Key is one AES key of a KeyRing. ID names it in every value it seals, so a value sealed before
// a rotation still finds its key; it is not secret, and at most 255 bytes.
type Key struct {
	ID     string
	Secret []byte // 16, 24 or 32 bytes: AES-128, -192 or -256
}

// KeyRing encrypts values at rest with AES-GCM. The first key seals; every key opens, so keys
// rotate by putting the new one first and dropping the old one once no value it sealed can be
// alive (after the absolute session lifetime).
type KeyRing struct {
	sealID []byte
	seal   cipher.AEAD
	open   map[string]cipher.AEAD
}

// NewKeyRing checks the keys and prepares their ciphers. The error names a key by its id and
// position, never by its secret.
func NewKeyRing(keys ...Key) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: key ring: no keys")
	}
	r := &KeyRing{open: map[string]cipher.AEAD{}}
	for i, k := range keys {
		if k.ID == "" || len(k.ID) > 255 {
			return nil, fmt.Errorf("session: key ring: keys[%d]: id must be 1 to 255 bytes", i)
		}
		if _, dup := r.open[k.ID]; dup {
			return nil, fmt.Errorf("session: key ring: keys[%d]: id %q repeated", i, k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("session: key ring: keys[%d] (id %q): %d-byte key, want 16, 24 or 32", i, k.ID, len(k.Secret))
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("session: key ring: keys[%d] (id %q): %w", i, k.ID, err)
		}
		r.open[k.ID] = aead
		if i == 0 {
			r.sealID, r.seal = []byte(k.ID), aead
		}
	}
	return r, nil
}

// ErrUndecryptable is returned for a value no key of the ring opens: sealed with a key since
// dropped, for another record (aad), or tampered with. Stores treat it as not found.
var ErrUndecryptable = errors.New("session: value cannot be decrypted with any key of the ring")

// Seal encrypts plaintext bound to aad (the record's key, so a value copied onto another
// record does not open). The layout is len(id) | id | nonce | ciphertext+tag.
func (r *KeyRing) Seal(plaintext, aad []byte) []byte {
	ns := r.seal.NonceSize()
	out := make([]byte, 0, 1+len(r.sealID)+ns+len(plaintext)+r.seal.Overhead())
	out = append(out, byte(len(r.sealID)))
	out = append(out, r.sealID...)
	nonce := out[len(out) : len(out)+ns]
	_, _ = rand.Read(nonce) // never fails
	out = out[:len(out)+ns]
	return r.seal.Seal(out, nonce, plaintext, aad)
}

// Open decrypts a value Seal made with any key of the ring.
func (r *KeyRing) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1 || len(sealed) < 1+int(sealed[0]) {
		return nil, ErrUndecryptable
	}
	n := 1 + int(sealed[0])
	aead, ok := r.open[string(sealed[1:n])]
	rest := sealed[n:]
	if !ok || len(rest) < aead.NonceSize() {
		return nil, ErrUndecryptable
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], aad)
	if err != nil {
		return nil, ErrUndecryptable
	}
	return plain, nil
}
