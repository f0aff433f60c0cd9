package sqlite_test

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/sqlite"
)

// notices records what a subscription receives: the notices without their
// CommittedAt, which goes to committed, and when each arrived.
type notices struct {
	mu        sync.Mutex
	got       []storage.Revocation
	committed []time.Time
	at        []time.Time
}

func (n *notices) fn(r storage.Revocation) {
	n.mu.Lock()
	n.committed = append(n.committed, r.CommittedAt)
	r.CommittedAt = time.Time{}
	n.got = append(n.got, r)
	n.at = append(n.at, time.Now())
	n.mu.Unlock()
}

// all returns a copy of the notices received so far.
func (n *notices) all() []storage.Revocation {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.got)
}

// index returns the position of the first notice equal to r, or -1.
func (n *notices) index(r storage.Revocation) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Index(n.got, r)
}

// subscribe subscribes a new recorder to s for the duration of t.
func subscribe(t *testing.T, s *sqlite.Store) *notices {
	t.Helper()
	n := &notices{}
	cancel, err := s.Subscribe(n.fn)
	if err != nil {
		t.Fatalf("Subscribe: got error %v, want nil", err)
	}
	t.Cleanup(cancel)
	return n
}

// revokeOne creates a session of userID through s and revokes it, returning
// the notice it must cause.
func revokeOne(t *testing.T, s *sqlite.Store, userID string) storage.Revocation {
	t.Helper()
	x := newSession(userID, time.Now())
	if err := s.CreateSession(t.Context(), x); err != nil {
		t.Fatalf("CreateSession: got error %v, want nil", err)
	}
	if _, err := s.RevokeSession(t.Context(), userID, x.Handle); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	return storage.Revocation{UserID: userID, TokenHash: x.TokenHash}
}

func TestNoticeReachesAnotherStoreWithinThePollInterval(t *testing.T) {
	// Not parallel: it measures a latency.
	const poll = 50 * time.Millisecond
	path := filepath.Join(t.TempDir(), "sessions.db")
	a := open(t, path, sqlite.Options{PollInterval: poll})
	b := open(t, path, sqlite.Options{PollInterval: poll})
	local, remote := subscribe(t, a), subscribe(t, b)

	x := newSession("frank", time.Now())
	if err := a.CreateSession(t.Context(), x); err != nil {
		t.Fatalf("CreateSession: got error %v, want nil", err)
	}
	before := time.Now()
	if _, err := a.RevokeSession(t.Context(), "frank", x.Handle); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	committed := time.Now()
	want := storage.Revocation{UserID: "frank", TokenHash: x.TokenHash}
	// In-process: delivered before RevokeSession returned.
	if got := local.all(); !slices.Equal(got, []storage.Revocation{want}) {
		t.Fatalf("notices of the revoking Store when RevokeSession returned: got %+v, want %+v", got, want)
	}
	eventually(t, "the other Store's notice", func() bool { return remote.index(want) >= 0 })
	i := remote.index(want)
	remote.mu.Lock()
	latency := remote.at[i].Sub(committed)
	stamps := []time.Time{local.committed[0], remote.committed[i]}
	remote.mu.Unlock()
	// Both notices carry the commit time, read back from the log by the
	// other Store, so that a subscriber can measure the notice's lag.
	for j, c := range stamps {
		if c.Before(before) || c.After(committed) {
			t.Errorf("CommittedAt of notice %d: got %v, want between %v and %v", j, c, before, committed)
		}
	}
	t.Logf("cross-Store latency with PollInterval %v: %v", poll, latency)
	// One poll interval plus the time to run it; generous for -race on a
	// loaded machine, and far below what a missing poller would take.
	if limit := 10 * poll; latency > limit {
		t.Errorf("cross-Store notice latency: got %v, want at most %v", latency, limit)
	}
}

func TestOwnRevocationIsDeliveredOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	a := open(t, path, sqlite.Options{PollInterval: testPoll})
	b := open(t, path, sqlite.Options{PollInterval: testPoll})
	n := subscribe(t, a)

	own := revokeOne(t, a, "grace")
	other := revokeOne(t, b, "grace")
	// b's row comes after a's in the log: once a's poller has delivered
	// it, it has also passed over a's own row.
	eventually(t, "the other Store's notice", func() bool { return n.index(other) >= 0 })
	if got, want := n.all(), []storage.Revocation{own, other}; !slices.Equal(got, want) {
		t.Errorf("notices: got %+v, want %+v", got, want)
	}
}

func TestPollFailureDeliversResets(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := open(t, path, sqlite.Options{PollInterval: testPoll})
	n := subscribe(t, s)
	raw := rawDB(t, path)
	reset := storage.Revocation{Reset: true}
	count := func() int {
		c := 0
		for _, r := range n.all() {
			if r == reset {
				c++
			}
		}
		return c
	}

	// Hide the log from the poller: its reads fail.
	if _, err := raw.Exec(`ALTER TABLE revocations RENAME TO revocations_hidden`); err != nil {
		t.Fatalf("renaming the revocation log: got error %v, want nil", err)
	}
	eventually(t, "a Reset when polling fails", func() bool { return count() >= 1 })
	if got := count(); got != 1 {
		t.Errorf("Resets while polling keeps failing: got %d, want 1", got)
	}
	if _, err := raw.Exec(`ALTER TABLE revocations_hidden RENAME TO revocations`); err != nil {
		t.Fatalf("restoring the revocation log: got error %v, want nil", err)
	}
	eventually(t, "a second Reset when polling works again", func() bool { return count() >= 2 })

	// Delivery goes on.
	b := open(t, path, sqlite.Options{PollInterval: testPoll})
	want := revokeOne(t, b, "heidi")
	eventually(t, "a notice after recovery", func() bool { return n.index(want) >= 0 })
	if got := count(); got != 2 {
		t.Errorf("Resets after recovery: got %d, want 2", got)
	}
}

func TestCancelledSubscriptionReceivesNothing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	a := open(t, path, sqlite.Options{PollInterval: testPoll})
	b := open(t, path, sqlite.Options{PollInterval: testPoll})
	stopped := &notices{}
	cancel, err := a.Subscribe(stopped.fn)
	if err != nil {
		t.Fatalf("Subscribe: got error %v, want nil", err)
	}
	live := subscribe(t, a)
	cancel()
	cancel()
	revokeOne(t, a, "ivan")
	want := revokeOne(t, b, "ivan")
	eventually(t, "the live subscription's notice", func() bool { return live.index(want) >= 0 })
	if got := stopped.all(); len(got) != 0 {
		t.Errorf("cancelled subscription: got %+v, want nothing", got)
	}
}

func TestSubscribeFailsOnANilFuncAndAfterClose(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "sessions.db"), sqlite.Options{PollInterval: testPoll})
	if cancel, err := s.Subscribe(nil); err == nil || cancel != nil {
		t.Errorf("Subscribe(nil): got cancel nil %v, error %v; want nil, an error", cancel == nil, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	if cancel, err := s.Subscribe((&notices{}).fn); err == nil || cancel != nil {
		t.Errorf("Subscribe after Close: got cancel nil %v, error %v; want nil, an error", cancel == nil, err)
	}
}
