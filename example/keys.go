package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sessionguard/sessionguard/session"
)

// keyFile holds the generated secrets of the example. It lives in the data
// directory (git-ignored, mode 0600) and is never regenerated once written,
// so sessions survive restarts.
type keyFile struct {
	Cookie []session.KeyPair `json:"cookie"`
	TOTP   []byte            `json:"totp,omitempty"`
}

// loadOrCreateKeys reads dataDir/keys.json, creating it with fresh random
// keys on first start.
func loadOrCreateKeys(dataDir string) (*keyFile, error) {
	path := filepath.Join(dataDir, "keys.json")
	b, err := os.ReadFile(path)
	if err == nil {
		var k keyFile
		if err := json.Unmarshal(b, &k); err != nil || len(k.Cookie) == 0 {
			return nil, fmt.Errorf("reading %s: not a key file (remove it to generate new keys)", path)
		}
		return &k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	pair, err := session.GenerateKeyPair()
	if err != nil {
		return nil, err
	}
	k := &keyFile{Cookie: []session.KeyPair{pair}}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	b, _ = json.MarshalIndent(k, "", "  ")
	// O_EXCL: never overwrite keys another process just wrote.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}
