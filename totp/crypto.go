package totp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
)

// sealVersion is the first byte of every sealed secret, so that the format
// can change without guessing.
const sealVersion = 1

// keyRing encrypts TOTP secrets at rest with AES-256-GCM (SECURITY.md §13).
// The first key seals; every key opens what it sealed. It is immutable and
// safe for concurrent use.
type keyRing struct {
	newest string
	aeads  map[string]cipher.AEAD
}

func newKeyRing(keys []Key) (*keyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("totp: Config.Keys: at least one key is required")
	}
	r := &keyRing{newest: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if k.ID == "" {
			return nil, fmt.Errorf("totp: Config.Keys[%d]: empty ID", i)
		}
		if len(k.ID) > 64 {
			return nil, fmt.Errorf("totp: Config.Keys[%d]: ID longer than 64 bytes", i)
		}
		if _, dup := r.aeads[k.ID]; dup {
			return nil, fmt.Errorf("totp: Config.Keys[%d]: duplicate ID %q", i, k.ID)
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("totp: Config.Keys[%d] (%q): secret is %d bytes, want %d (AES-256)", i, k.ID, len(k.Secret), KeySize)
		}
		for _, prev := range keys[:i] {
			if subtle.ConstantTimeCompare(prev.Secret, k.Secret) == 1 {
				return nil, fmt.Errorf("totp: Config.Keys[%d] (%q): same secret as key %q", i, k.ID, prev.ID)
			}
		}
		if allSame(k.Secret) {
			return nil, fmt.Errorf("totp: Config.Keys[%d] (%q): secret is not random", i, k.ID)
		}
		// Copy the key so that later changes by the caller change nothing.
		block, err := aes.NewCipher(slices.Clone(k.Secret))
		if err != nil {
			return nil, fmt.Errorf("totp: Config.Keys[%d] (%q): %w", i, k.ID, err)
		}
		// A random 96-bit nonce per message, prepended to the ciphertext.
		// With at most a few secrets per user per key, the birthday bound of
		// random GCM nonces (2^32 messages per key, NIST SP 800-38D §8.3)
		// is out of reach.
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("totp: Config.Keys[%d] (%q): %w", i, k.ID, err)
		}
		r.aeads[k.ID] = aead
	}
	return r, nil
}

func allSame(b []byte) bool {
	for _, c := range b[1:] {
		if c != b[0] {
			return false
		}
	}
	return true
}

// additionalData binds a sealed secret to its user and key: a ciphertext
// copied into another user's record does not open.
func additionalData(userID, keyID string) []byte {
	ad := make([]byte, 0, 32+len(userID)+len(keyID))
	ad = append(ad, "sessionguard/totp secret v1"...)
	ad = append(ad, 0)
	ad = append(ad, userID...)
	ad = append(ad, 0)
	ad = append(ad, keyID...)
	return ad
}

// seal encrypts secret for userID with the newest key and returns the
// sealed bytes and the key ID.
func (r *keyRing) seal(userID string, secret []byte) ([]byte, string) {
	aead := r.aeads[r.newest]
	out := make([]byte, 1, 1+aead.NonceSize()+len(secret)+aead.Overhead())
	out[0] = sealVersion
	return aead.Seal(out, nil, secret, additionalData(userID, r.newest)), r.newest
}

// open decrypts what seal returned.
func (r *keyRing) open(userID, keyID string, sealed []byte) ([]byte, error) {
	aead, ok := r.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("totp: secret sealed with unknown key %q (removed from Config.Keys too early?)", keyID)
	}
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return nil, errors.New("totp: stored secret has an unknown format")
	}
	secret, err := aead.Open(nil, nil, sealed[1:], additionalData(userID, keyID))
	if err != nil {
		return nil, fmt.Errorf("totp: stored secret does not decrypt with key %q: %w", keyID, err)
	}
	return secret, nil
}
