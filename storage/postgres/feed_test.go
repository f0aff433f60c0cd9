package postgres_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/internal/testproxy"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// errorLog collects the errors a store reports.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) snapshot() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// revoke creates a session through s and revokes it, returning the notice
// subscribers must receive.
func revoke(t *testing.T, s *postgres.Store, user string) storage.Revocation {
	t.Helper()
	sess := testSession(user)
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := s.RevokeSession(t.Context(), sess.UserID, sess.Handle); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	return storage.Revocation{UserID: sess.UserID, TokenHash: sess.TokenHash}
}

// waitWithin waits until cond holds and fails tb if that took longer than
// bound.
func waitWithin(tb testing.TB, what string, bound time.Duration, cond func() bool) {
	tb.Helper()
	start := time.Now()
	waitFor(tb, what, cond)
	if d := time.Since(start); d > bound {
		tb.Errorf("%s took %v, want at most %v", what, d, bound)
	}
}

func TestFeedCarriesRevocationsWhileListenIsDeaf(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg, err := pgx.ParseConfig(f.url)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	// The listener's own path goes through a proxy; the pool connects
	// directly.
	proxy := testproxy.New(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	listenURL := "postgres://" + cfg.User + "@" + proxy.Addr() + "/" + cfg.Database + "?sslmode=disable&connect_timeout=1"
	errs := &errorLog{}
	s := f.store(t, postgres.Options{
		ListenURL:            listenURL,
		ListenerPingInterval: 200 * time.Millisecond,
		FeedInterval:         50 * time.Millisecond,
		OnError:              errs.add,
	}, nil)
	var delivered errorLog
	stop := s.OnDeliveryError(delivered.add)
	defer stop()
	peer := f.store(t, postgres.Options{}, nil)
	n := subscribeNotices(t, s)
	bound := s.NotifyBound()

	// A silent partition: the listener's connection stays open but hears
	// nothing, and no new one can be made.
	proxy.Blackhole()
	waitWithin(t, "a Reset once the test notice is missed", bound+schedulingSlack, func() bool { return n.resets() >= 1 })
	waitFor(t, "the delivery failure to be reported", func() bool { return len(delivered.snapshot()) == 1 })
	if err := delivered.snapshot()[0]; !errors.Is(err, postgres.ErrNoTestNotice) {
		t.Errorf("reported delivery failure: got %v, want ErrNoTestNotice", err)
	}
	waitFor(t, "the Reset once the feed has taken over", func() bool { return n.resets() >= 2 })

	// Revocations keep arriving, by the feed, within the feed's bound.
	for i := range 3 {
		want := revoke(t, peer, "user-deaf-"+strconv.Itoa(i))
		waitWithin(t, "a revocation by the feed", 2*50*time.Millisecond+schedulingSlack, func() bool { return n.has(want) })
	}
	// The missed test notice is reported once, not at every ping while the
	// feed carries the revocations. (A feed read that overruns its interval
	// on a loaded machine is a failure of its own and may be reported too.)
	missed := 0
	for _, err := range delivered.snapshot() {
		if errors.Is(err, postgres.ErrNoTestNotice) {
			missed++
		}
	}
	if missed != 1 {
		t.Errorf("missed test notices reported while the feed works: got %d, want 1 (all reports: %v)", missed, delivered.snapshot())
	}

	// LISTEN comes back, and carries revocations again.
	proxy.Restore()
	waitFor(t, "the listener to LISTEN again", func() bool {
		return adminQueryInt(t, f.url, `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND query = $2 AND state = 'idle'`, postgres.ListenerApplicationName, listenQuery(f.channel)) >= 1
	})
	want := revoke(t, peer, "user-back")
	waitFor(t, "a revocation after LISTEN is back", func() bool { return n.has(want) })
	if len(errs.snapshot()) == 0 {
		t.Error("OnError during the partition: got no call, want some")
	}
}

func TestListenerKilledBehindPgBouncerResetsAndRecovers(t *testing.T) {
	t.Parallel()
	url := bouncerURL(t)
	f := newFixture(t)
	s := f.bouncerStore(t, url, pgx.QueryExecModeCacheDescribe, postgres.Options{
		Schema: f.schema, Channel: f.channel, ListenURL: f.url, FeedInterval: 50 * time.Millisecond,
	})
	var delivered errorLog
	stop := s.OnDeliveryError(delivered.add)
	defer stop()
	peer := f.bouncerStore(t, url, pgx.QueryExecModeExec, postgres.Options{Schema: f.schema, Channel: f.channel, FeedOnly: true})
	n := subscribeNotices(t, s)
	pid := listenerPID(t, f)

	terminatePID(t, f, pid)
	waitFor(t, "two Resets", func() bool { return n.resets() >= 2 })
	if got := n.resets(); got != 2 {
		t.Errorf("Resets after the listener's backend was terminated: got %d, want 2", got)
	}
	if got := len(delivered.snapshot()); got != 1 {
		t.Errorf("delivery failures reported: got %d, want 1", got)
	}
	want := revoke(t, peer, "user-killed")
	waitFor(t, "the revocation after the reconnect", func() bool { return n.has(want) })
	if got := listenerPID(t, f); got == pid {
		t.Errorf("listener backend after the kill: got the same pid %d, want a new one", got)
	}
}

// TestFeedDeliversACommitThatTookALowerIDLate holds a feed entry
// uncommitted while a later one commits: a cursor on ids would step over
// the first for good; the snapshot cursor delivers both.
func TestFeedDeliversACommitThatTookALowerIDLate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, postgres.Options{FeedOnly: true, FeedInterval: 20 * time.Millisecond}, nil)
	n := subscribeNotices(t, s)

	ctx := t.Context()
	conn, err := pgx.Connect(ctx, f.url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback(context.Background())
	early := storage.Revocation{UserID: "user-early"}
	if _, err := tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{f.schema, "revocation_feed"}.Sanitize()+` (payload) VALUES ($1)`,
		":"+early.UserID); err != nil {
		t.Fatalf("insert: %v", err)
	}
	late := revoke(t, s, "user-late") // a higher id, committed first
	waitFor(t, "the later entry", func() bool { return n.has(late) })
	time.Sleep(100 * time.Millisecond) // several reads past it
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	waitFor(t, "the entry with the lower id, committed last", func() bool { return n.has(early) })
}

func TestSweepPrunesTheFeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, postgres.Options{
		FeedInterval:  10 * time.Millisecond,
		FeedRetention: 100 * time.Millisecond,
		SweepInterval: 20 * time.Millisecond,
	}, nil)
	revoke(t, s, "user-prune")
	feed := pgx.Identifier{f.schema, "revocation_feed"}.Sanitize()
	if got := adminQueryInt(t, f.url, `SELECT count(*) FROM `+feed); got != 1 {
		t.Fatalf("feed entries after one revocation: got %d, want 1", got)
	}
	waitFor(t, "the sweep to prune the feed", func() bool {
		return adminQueryInt(t, f.url, `SELECT count(*) FROM `+feed) == 0
	})
}

func TestNotifyBoundIsTwoIntervalsOfTheDeliveryInUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name string
		opts postgres.Options
		want time.Duration
	}{
		{"LISTEN by default: two ping intervals", postgres.Options{}, 20 * time.Second},
		{"LISTEN with a feed interval longer than the ping interval: two feed intervals",
			postgres.Options{ListenerPingInterval: time.Second, FeedInterval: 3 * time.Second}, 6 * time.Second},
		{"the feed alone by default: two feed intervals", postgres.Options{FeedOnly: true}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.store(t, tt.opts, nil).NotifyBound(); got != tt.want {
				t.Errorf("NotifyBound: got %v, want %v", got, tt.want)
			}
		})
	}
}
