package sqlite_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage/sqlite"
)

// TestNewFileIsPrivate checks that a database file Open creates, and the
// WAL files SQLite creates next to it, are readable by their owner only:
// they hold the security log, IP addresses and encrypted TOTP secrets.
func TestNewFileIsPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "private.db")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.CreateSession(t.Context(), newSession("alice", time.Now())); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat: %v", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s: got permissions %v, want none for group and others", filepath.Base(p), perm)
		}
	}
}
