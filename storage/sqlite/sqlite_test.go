package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/sqlite"
	"github.com/sessionguard/sessionguard/storage/storagetest"
)

// testPoll is the PollInterval of the tests: short, so that cross-Store
// notices arrive quickly.
const testPoll = 20 * time.Millisecond

// open opens the database file at path for the duration of t.
func open(t *testing.T, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("Open(%q): got error %v, want nil", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: got error %v, want nil", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	var paths sync.Map // *sqlite.Store → its file
	storagetest.Run(t, func(t *testing.T) storage.Store {
		path := filepath.Join(t.TempDir(), "sessions.db")
		s := open(t, path, sqlite.Options{PollInterval: testPoll})
		paths.Store(s, path)
		return s
	}, storagetest.WithPeer(func(t *testing.T, s storage.Store) storage.Store {
		// A second Store on the same file, as a second process would have.
		path, _ := paths.Load(s)
		return open(t, path.(string), sqlite.Options{PollInterval: testPoll})
	}))
}
