package sqlite_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/sqlite"
)

// rawDB opens the file at path with plain database/sql, as another
// program would, for the duration of t.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("sql.Open: got error %v, want nil", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// userVersion returns PRAGMA user_version of the file at path.
func userVersion(t *testing.T, path string) int {
	t.Helper()
	var v int
	if err := rawDB(t, path).QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatalf("PRAGMA user_version: got error %v, want nil", err)
	}
	return v
}

// newSession returns a session of userID created at base, every field set.
func newSession(userID string, base time.Time) *storage.Session {
	var h storage.TokenHash
	rand.Read(h[:])
	return &storage.Session{
		TokenHash:  h,
		Handle:     rand.Text(),
		UserID:     userID,
		CreatedAt:  base,
		ExpiresAt:  base.Add(30 * 24 * time.Hour),
		AuthLevel:  storage.AuthSecondFactor,
		AuthAt:     base,
		LastSeenAt: base.Add(time.Second),
		LastSeenIP: "198.51.100.4",
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
		Device:     storage.Device{Browser: "Firefox", BrowserVersion: "133", OS: "Linux", Type: "desktop"},
		Location:   storage.Location{City: "Porto", Region: "Porto", Country: "Portugal", CountryCode: "PT"},
	}
}

func TestOpenRejectsBadArguments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		opts sqlite.Options
	}{
		{"an empty path is refused", "", sqlite.Options{}},
		{"an in-memory name is refused", ":memory:", sqlite.Options{}},
		{"a URI is refused", "file:x.db", sqlite.Options{}},
		{"a negative sweep interval is refused", filepath.Join(dir, "a.db"), sqlite.Options{SweepInterval: -time.Second}},
		{"a negative poll interval is refused", filepath.Join(dir, "b.db"), sqlite.Options{PollInterval: -time.Second}},
		{"a negative busy timeout is refused", filepath.Join(dir, "c.db"), sqlite.Options{BusyTimeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tt.path, tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q, %+v): got nil error, want one", tt.path, tt.opts)
			}
		})
	}
}

func TestDataSurvivesCloseAndReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	ctx := t.Context()
	base := time.Now().Round(0)
	sess := newSession("alice", base)
	var code storage.TokenHash
	rand.Read(code[:])
	ev := &storage.Event{UserID: "alice", Type: storage.EventSignedIn, At: base, SessionHandle: sess.Handle}
	ev2 := &storage.Event{UserID: "alice", Type: storage.EventSignedOut, At: base.Add(-time.Hour)}

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	for _, err := range []error{
		s.CreateSession(ctx, sess),
		s.PutPendingTOTP(ctx, &storage.TOTPCredential{UserID: "alice", Secret: []byte{1, 2, 3}, KeyID: "k1", CreatedAt: base}),
		s.ConfirmTOTP(ctx, "alice", 42, base),
		s.ReplaceRecoveryCodes(ctx, "alice", []storage.TokenHash{code}),
		s.AppendEvent(ctx, ev),
		s.AppendEvent(ctx, ev2), // the newest ID, deleted below
	} {
		if err != nil {
			t.Fatalf("writing: got error %v, want nil", err)
		}
	}
	if n, err := s.DeleteEventsBefore(ctx, base.Add(-time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteEventsBefore: got %d, %v; want 1, nil", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}

	s = open(t, path, sqlite.Options{})
	got, err := s.GetSession(ctx, sess.TokenHash)
	if err != nil {
		t.Fatalf("GetSession after reopening: got error %v, want nil", err)
	}
	if !got.CreatedAt.Equal(sess.CreatedAt) || !got.LastSeenAt.Equal(sess.LastSeenAt) || got.Handle != sess.Handle || got.Location != sess.Location || got.AuthLevel != sess.AuthLevel {
		t.Errorf("GetSession after reopening: got %+v, want %+v", got, sess)
	}
	if c, err := s.GetTOTP(ctx, "alice"); err != nil || !c.Confirmed || c.LastStep != 42 {
		t.Errorf("GetTOTP after reopening: got %+v, %v; want confirmed at step 42", c, err)
	}
	if err := s.ConsumeRecoveryCode(ctx, "alice", code); err != nil {
		t.Errorf("ConsumeRecoveryCode after reopening: got error %v, want nil", err)
	}
	// Event IDs are never reused, even the deleted newest one.
	ev3 := &storage.Event{UserID: "alice", Type: storage.EventSignedIn, At: base}
	if err := s.AppendEvent(ctx, ev3); err != nil {
		t.Fatalf("AppendEvent after reopening: got error %v, want nil", err)
	}
	if ev3.ID <= ev2.ID {
		t.Errorf("AppendEvent after deleting the newest event: got ID %d, want more than %d", ev3.ID, ev2.ID)
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	for range 2 {
		s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatalf("Open: got error %v, want nil", err)
		}
		s.Close()
	}
	if got := userVersion(t, path); got != sqlite.SchemaVersion {
		t.Errorf("user_version: got %d, want %d", got, sqlite.SchemaVersion)
	}
}

func TestConcurrentOpensOfAFreshFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	const openers = 4
	stores := make([]*sqlite.Store, openers)
	errs := make([]error, openers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range openers {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = sqlite.Open(t.Context(), path, sqlite.Options{})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open #%d: got error %v, want nil", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	// Every Store works on the one schema.
	for i, s := range stores {
		if err := s.CreateSession(t.Context(), newSession("bob", time.Now())); err != nil {
			t.Errorf("CreateSession through Store #%d: got error %v, want nil", i, err)
		}
	}
	if got, err := stores[0].ListSessions(t.Context(), "bob"); err != nil || len(got) != openers {
		t.Errorf("ListSessions: got %d sessions, %v; want %d, nil", len(got), err, openers)
	}
	if got := userVersion(t, path); got != sqlite.SchemaVersion {
		t.Errorf("user_version: got %d, want %d", got, sqlite.SchemaVersion)
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	if _, err := rawDB(t, path).Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatalf("PRAGMA user_version = 99: got error %v, want nil", err)
	}
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer release: got nil error, want one")
	}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// eventually fails t unless cond becomes true within 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSweepRemovesExpiredSessionsAndOldRevocations(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	base := time.Now().Round(0)
	clk := &clock{t: base}
	s := open(t, path, sqlite.Options{SweepInterval: 10 * time.Millisecond, Now: clk.Now})
	ctx := t.Context()

	short := newSession("carol", base)
	short.ExpiresAt = base.Add(time.Hour)
	long := newSession("carol", base)
	long.ExpiresAt = base.Add(48 * time.Hour)
	revoked := newSession("carol", base)
	for _, x := range []*storage.Session{short, long, revoked} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatalf("CreateSession: got error %v, want nil", err)
		}
	}
	if _, err := s.RevokeSession(ctx, "carol", revoked.Handle); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	raw := rawDB(t, path)
	logRows := func() int {
		var n int
		if err := raw.QueryRow(`SELECT count(*) FROM revocations`).Scan(&n); err != nil {
			t.Fatalf("counting the revocation log: got error %v, want nil", err)
		}
		return n
	}
	if got := logRows(); got != 1 {
		t.Fatalf("revocation log after one revocation: got %d rows, want 1", got)
	}

	clk.Set(base.Add(2 * time.Hour))
	eventually(t, "the expired session is swept", func() bool {
		_, err := s.GetSession(ctx, short.TokenHash)
		return errors.Is(err, storage.ErrNotFound)
	})
	if _, err := s.GetSession(ctx, long.TokenHash); err != nil {
		t.Errorf("GetSession of a live session after the sweep: got error %v, want nil", err)
	}
	// Two hours is past the log's retention too.
	eventually(t, "the old revocation-log row is pruned", func() bool { return logRows() == 0 })
}

func TestCloseStopsBackgroundWork(t *testing.T) {
	// Not parallel: it counts the goroutines of the process.
	path := filepath.Join(t.TempDir(), "sessions.db")
	before := runtime.NumGoroutine()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{SweepInterval: time.Millisecond, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	if _, err := s.Subscribe(func(storage.Revocation) {}); err != nil {
		t.Fatalf("Subscribe: got error %v, want nil", err)
	}
	if err := s.CreateSession(t.Context(), newSession("dave", time.Now())); err != nil {
		t.Fatalf("CreateSession: got error %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: got error %v, want nil", err)
	}
	eventually(t, "goroutines return to their number before Open", func() bool {
		return runtime.NumGoroutine() <= before
	})
	if _, err := s.Subscribe(func(storage.Revocation) {}); err == nil {
		t.Error("Subscribe after Close: got nil error, want one")
	}
	if _, err := s.GetSession(t.Context(), storage.TokenHash{}); err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession after Close: got %v, want a system error", err)
	}
}

func TestCancelledContextIsReported(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "sessions.db"), sqlite.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.GetSession(ctx, storage.TokenHash{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("GetSession with a cancelled context: got %v, want context.Canceled", err)
	}
	_, err = s.RevokeUserSessions(ctx, "erin", storage.TokenHash{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RevokeUserSessions with a cancelled context: got %v, want context.Canceled", err)
	}
}
