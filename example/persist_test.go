package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/sessionguard/sessionguard/session"
	"golang.org/x/crypto/bcrypt"
)

// serveFrom starts the app on dataDir with the given store.
func serveFrom(t *testing.T, dataDir, kind string) (*httptest.Server, *app) {
	t.Helper()
	a, err := newApp(appConfig{DataDir: dataDir, Logger: quietLogger(), BcryptCost: bcrypt.MinCost, StoreKind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return httptest.NewServer(a.Handler()), a
}

func TestRestartKeepsSessionsAndAccounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a := serveFrom(t, dir, storeSQLite)
	c := newClient(t, srv, chromeMac)
	c.expectRedirect("POST", "/signup", url.Values{"username": {"alice"}, "password": {"alice-password"}}, "/?m=welcome")
	srv.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"keys.json", "users.json", "sessions.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("the data directory has no %s: %v", name, err)
		}
	}
	t.Run("the accounts file holds bcrypt hashes only, readable by the owner", func(t *testing.T) {
		path := filepath.Join(dir, "users.json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("alice-password")) || bytes.Contains(b, []byte(demoPassword)) || !bytes.Contains(b, []byte(`"bcrypt": "$2a$`)) {
			t.Errorf("users.json:\n%s", b)
		}
		for _, name := range []string{"users.json", "keys.json"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: got mode %v (%v), want 0600", name, fi.Mode().Perm(), err)
			}
		}
	})

	// The same browser, after a restart: still signed in.
	srv2, a2 := serveFrom(t, dir, storeSQLite)
	t.Cleanup(func() { srv2.Close(); a2.Close() })
	c.srv = srv2
	c.page("/", "/", "Hello, alice")
	fresh := newClient(t, srv2, iphone)
	fresh.expectRedirect("POST", "/login", url.Values{"username": {"alice"}, "password": {"alice-password"}}, "/")
	fresh.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/")
}

func TestMemoryStoreKeepsNoAccounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a := serveFrom(t, dir, storeMemory)
	t.Cleanup(func() { srv.Close(); a.Close() })
	c := newClient(t, srv, chromeMac)
	c.expectRedirect("POST", "/signup", url.Values{"username": {"alice"}, "password": {"alice-password"}}, "/?m=welcome")
	if _, err := os.Stat(filepath.Join(dir, "users.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("with the memory store, accounts were written to disk (%v)", err)
	}
}

func TestUnknownStoreRefused(t *testing.T) {
	t.Parallel()
	_, err := newApp(appConfig{DataDir: t.TempDir(), Logger: quietLogger(), StoreKind: "floppy"})
	if err == nil {
		t.Error("an unknown store kind was accepted")
	}
}

func TestCorruptFilesRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, content string
	}{
		{"a key file that is not JSON", "keys.json", "not json"},
		{"a key file without cookie keys", "keys.json", `{"cookie": []}`},
		{"an accounts file that is not JSON", "users.json", "not json"},
		{"an account with a bad hash", "users.json", `[{"id": "u1", "username": "x", "bcrypt": "plaintext"}]`},
		{"two accounts with one name", "users.json", `[{"id": "u1", "username": "x", "bcrypt": "$2a$04$abcdefghijklmnopqrstuu5Zf9nNf7WZQ3v8uA6OQ3GfHcV1t7J2u"}, {"id": "u2", "username": "x", "bcrypt": "$2a$04$abcdefghijklmnopqrstuu5Zf9nNf7WZQ3v8uA6OQ3GfHcV1t7J2u"}]`},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if tt.file == "users.json" {
			if _, err := loadOrCreateKeys(dir); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if a, err := newApp(appConfig{DataDir: dir, Logger: quietLogger(), BcryptCost: bcrypt.MinCost}); err == nil {
			a.Close()
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestOldKeyFileGainsATOTPKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pair, err := session.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	old, _ := json.Marshal(map[string]any{"cookie": []session.KeyPair{pair}})
	if err := os.WriteFile(filepath.Join(dir, "keys.json"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := loadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.Cookie[0].HashKey, pair.HashKey) || len(k.TOTP) != 1 || len(k.TOTP[0].Secret) != 32 {
		t.Fatalf("got %d TOTP keys and cookie keys kept: %v", len(k.TOTP), bytes.Equal(k.Cookie[0].HashKey, pair.HashKey))
	}
	again, err := loadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.TOTP[0].Secret, k.TOTP[0].Secret) {
		t.Error("the TOTP key was regenerated")
	}
}

func TestDescribeStoreHidesPasswords(t *testing.T) {
	t.Parallel()
	got := describeStore(appConfig{StoreKind: storePostgres, StoreURL: "postgres://app:s3cret@db.internal/app"})
	if got != "postgres at postgres://app:xxxxx@db.internal/app" {
		t.Errorf("got %q", got)
	}
}

func TestDatabaseReadableByTheOwnerOnly(t *testing.T) {
	t.Parallel()
	// A data directory made beforehand, with the usual mode 0755: only
	// the files' own modes keep other local users out.
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	checkModes := func(t *testing.T) {
		t.Helper()
		for _, name := range []string{"sessions.db", "sessions.db-wal", "sessions.db-shm"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if errors.Is(err, fs.ErrNotExist) && name != "sessions.db" {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s: got mode %v, want 0600", name, got)
			}
		}
	}

	srv, a := serveFrom(t, dir, storeSQLite)
	c := newClient(t, srv, chromeMac)
	c.expectRedirect("POST", "/signup", url.Values{"username": {"alice"}, "password": {"alice-password"}}, "/?m=welcome")
	checkModes(t)
	srv.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("a database left readable by an earlier version is restricted on start", func(t *testing.T) {
		if err := os.Chmod(filepath.Join(dir, "sessions.db"), 0o644); err != nil {
			t.Fatal(err)
		}
		srv, a := serveFrom(t, dir, storeSQLite)
		t.Cleanup(func() { srv.Close(); a.Close() })
		newClient(t, srv, iphone).expectRedirect("POST", "/login", url.Values{"username": {"alice"}, "password": {"alice-password"}}, "/")
		checkModes(t)
	})
}
