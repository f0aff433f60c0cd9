package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func TestSchemaVersionMatchesTheMigrations(t *testing.T) {
	t.Parallel()
	if len(migrations) != SchemaVersion {
		t.Errorf("len(migrations): got %d, want SchemaVersion %d", len(migrations), SchemaVersion)
	}
}

func TestTimeEncoding(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"the zero time round-trips as zero", time.Time{}, time.Time{}},
		{"a time round-trips to the nanosecond", now, now},
		{"a time in another location round-trips", now.In(time.FixedZone("X", 3600)), now},
		{"the Unix epoch is not the zero time", time.Unix(0, 0), time.Unix(0, 0)},
		{"a time after 2262 is clamped", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), maxNanoTime},
		{"a time before 1678 is clamped", time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), minNanoTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeTime(encodeTime(tt.in))
			if !got.Equal(tt.want) || got.IsZero() != tt.want.IsZero() {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if !(encodeTime(time.Time{}) < encodeTime(minNanoTime)) {
		t.Error("the zero time does not sort before every other time")
	}
}

func TestPollResetsWhenRowsWerePrunedUnread(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	// Long intervals: this test drives the poller by hand.
	opts := Options{PollInterval: time.Hour, SweepInterval: time.Hour}
	a, err := Open(ctx, path, opts)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	defer a.Close()
	b, err := Open(ctx, path, opts)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	defer b.Close()

	var mu sync.Mutex
	var got []storage.Revocation
	cancel, _ := a.Subscribe(func(r storage.Revocation) {
		mu.Lock()
		r.CommittedAt = time.Time{}
		got = append(got, r)
		mu.Unlock()
	})
	defer cancel()

	start, err := a.lastRevocationID(ctx)
	if err != nil {
		t.Fatalf("lastRevocationID: got error %v, want nil", err)
	}
	for _, user := range []string{"u1", "u2", "u3"} {
		if _, err := b.RevokeUserSessions(ctx, user, storage.TokenHash{}); err != nil {
			t.Fatalf("RevokeUserSessions: got error %v, want nil", err)
		}
	}
	// The sweep of some process prunes the first row before a reads it.
	if _, err := b.w.ExecContext(ctx, `DELETE FROM revocations WHERE id = ?`, start+1); err != nil {
		t.Fatalf("pruning: got error %v, want nil", err)
	}
	p := &pollState{last: start}
	a.pollOnce(ctx, p)
	want := []storage.Revocation{{Reset: true}, {UserID: "u2"}, {UserID: "u3"}}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("notices: got %+v, want %+v", got, want)
	}
	if p.last != start+3 {
		t.Errorf("poller position: got %d, want %d", p.last, start+3)
	}
}

func TestPollerStartsAfterPrunedRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	opts := Options{PollInterval: time.Hour, SweepInterval: time.Hour}
	a, err := Open(ctx, path, opts)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	defer a.Close()
	if _, err := a.RevokeUserSessions(ctx, "u1", storage.TokenHash{}); err != nil {
		t.Fatalf("RevokeUserSessions: got error %v, want nil", err)
	}
	if _, err := a.w.ExecContext(ctx, `DELETE FROM revocations`); err != nil {
		t.Fatalf("pruning: got error %v, want nil", err)
	}
	// A Store opened on an emptied log starts at the high-water mark, so
	// the next row is no gap and causes no Reset.
	last, err := a.lastRevocationID(ctx)
	if err != nil || last != 1 {
		t.Fatalf("lastRevocationID of an emptied log: got %d, %v; want 1, nil", last, err)
	}
}

// A database written by schema version 1 is upgraded in place: its events
// stay, with no actor, and new events keep theirs.
func TestUpgradeFromVersion1KeepsEventsAndAddsActor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open: got error %v, want nil", err)
	}
	for _, stmt := range append(migrations[0], `PRAGMA user_version = 1`,
		`INSERT INTO events (user_id, type, at, session_handle, ip, device, location, detail) VALUES ('alice', 'signed_in', 1, '', '', '', '', '')`) {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: got error %v, want nil", stmt, err)
		}
	}
	raw.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open of a version 1 database: got error %v, want nil", err)
	}
	defer s.Close()
	if err := s.AppendEvent(ctx, &storage.Event{UserID: "alice", Type: storage.EventAllSessionsRevokedAdm, At: time.Now(), Actor: "support:jane"}); err != nil {
		t.Fatalf("AppendEvent: got error %v, want nil", err)
	}
	events, err := s.ListEvents(ctx, "alice", 0, 10)
	if err != nil || len(events) != 2 {
		t.Fatalf("ListEvents: got %d events, %v; want 2, nil", len(events), err)
	}
	if events[0].Actor != "support:jane" || events[1].Actor != "" || events[1].Type != storage.EventSignedIn {
		t.Errorf("events: got %+v, want the admin event with its actor, then the old sign-in without one", events)
	}
}
