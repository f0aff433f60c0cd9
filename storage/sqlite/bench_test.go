package sqlite

import (
	"crypto/rand"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// benchStore opens a Store on a fresh file for the duration of b.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "sessions.db"), Options{})
	if err != nil {
		b.Fatalf("Open: got error %v, want nil", err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchSessions stores n sessions of userID in one transaction and returns
// them.
func benchSessions(b *testing.B, s *Store, userID string, n int) []*storage.Session {
	b.Helper()
	now := time.Now()
	out := make([]*storage.Session, n)
	err := s.write(b.Context(), "bench", func(tx *sql.Tx) error {
		for i := range out {
			x := &storage.Session{
				Handle: rand.Text(), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
				AuthLevel: storage.AuthPassword, AuthAt: now, LastSeenAt: now, LastSeenIP: "192.0.2.1",
				UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
				Device:    storage.Device{Browser: "Firefox", BrowserVersion: "133", OS: "Linux", Type: "desktop"},
				Location:  storage.Location{City: "Porto", Country: "Portugal", CountryCode: "PT"},
			}
			rand.Read(x.TokenHash[:])
			if err := insertSession(b.Context(), tx, x); err != nil {
				return err
			}
			out[i] = x
		}
		return nil
	})
	if err != nil {
		b.Fatalf("storing sessions: got error %v, want nil", err)
	}
	return out
}

// BenchmarkGetSession measures the cache-miss path of a request: one read
// of a session among 10,000.
func BenchmarkGetSession(b *testing.B) {
	s := benchStore(b)
	sessions := benchSessions(b, s, "alice", 10_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.GetSession(b.Context(), sessions[i%len(sessions)].TokenHash); err != nil {
			b.Fatalf("GetSession: got error %v, want nil", err)
		}
		i++
	}
}

// BenchmarkRevokeUserSessions measures "log out everywhere" for a user with
// 1,000 sessions (and one kept): one DELETE, one log row, one commit.
func BenchmarkRevokeUserSessions(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sessions := benchSessions(b, s, "bob", 1_001)
		b.StartTimer()
		n, err := s.RevokeUserSessions(b.Context(), "bob", sessions[0].TokenHash)
		if err != nil || n != 1_000 {
			b.Fatalf("RevokeUserSessions: got %d, %v; want 1000, nil", n, err)
		}
		b.StopTimer()
		if _, err := s.RevokeUserSessions(b.Context(), "bob", storage.TokenHash{}); err != nil {
			b.Fatalf("RevokeUserSessions: got error %v, want nil", err)
		}
		b.StartTimer()
	}
}
