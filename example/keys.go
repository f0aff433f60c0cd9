package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/totp"
)

// keyFile holds the generated secrets of the example. It lives in the data
// directory (git-ignored, mode 0600) and is never regenerated once written,
// so sessions and second factors survive restarts.
type keyFile struct {
	// Cookie seals session cookies, newest first (session.Config.Keys).
	Cookie []session.KeyPair `json:"cookie"`
	// TOTP encrypts TOTP secrets at rest, newest first (totp.Config.Keys).
	TOTP []totpKey `json:"totp,omitempty"`
}

type totpKey struct {
	ID     string `json:"id"`
	Secret []byte `json:"secret"`
}

func (k *keyFile) totpKeys() []totp.Key {
	keys := make([]totp.Key, len(k.TOTP))
	for i, t := range k.TOTP {
		keys[i] = totp.Key{ID: t.ID, Secret: t.Secret}
	}
	return keys
}

// loadOrCreateKeys reads dataDir/keys.json, creating it with fresh random
// keys on first start. A key file written before the example had a second
// factor gains a TOTP key; the cookie keys in it are kept as they are.
func loadOrCreateKeys(dataDir string) (*keyFile, error) {
	path := filepath.Join(dataDir, "keys.json")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var k keyFile
		if err := json.Unmarshal(b, &k); err != nil || len(k.Cookie) == 0 {
			return nil, fmt.Errorf("reading %s: not a key file (remove it to generate new keys)", path)
		}
		if len(k.TOTP) > 0 {
			return &k, nil
		}
		if err := addTOTPKey(&k); err != nil {
			return nil, err
		}
		return &k, writeFileAtomic(path, marshalKeys(&k))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	pair, err := session.GenerateKeyPair()
	if err != nil {
		return nil, err
	}
	k := &keyFile{Cookie: []session.KeyPair{pair}}
	if err := addTOTPKey(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: never overwrite keys another process just wrote.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(marshalKeys(k)); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

func addTOTPKey(k *keyFile) error {
	secret := make([]byte, totp.KeySize)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	k.TOTP = append([]totpKey{{ID: fmt.Sprintf("k%d", len(k.TOTP)+1), Secret: secret}}, k.TOTP...)
	return nil
}

func marshalKeys(k *keyFile) []byte {
	b, _ := json.MarshalIndent(k, "", "  ")
	return append(b, '\n')
}

// writeFileAtomic replaces path with data, readable by the owner only: it
// writes a temporary file in the same directory, syncs it and renames it
// over path, so a crash leaves either the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
