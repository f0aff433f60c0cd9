package postgres_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/internal/testproxy"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// notices collects what a subscription receives.
type notices struct {
	mu  sync.Mutex
	got []storage.Revocation
}

func (n *notices) fn(r storage.Revocation) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, r)
}

func (n *notices) snapshot() []storage.Revocation {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]storage.Revocation(nil), n.got...)
}

func (n *notices) resets() int {
	c := 0
	for _, r := range n.snapshot() {
		if r.Reset {
			c++
		}
	}
	return c
}

// has reports whether a notice equal to want, but for its CommittedAt,
// has arrived.
func (n *notices) has(want storage.Revocation) bool {
	return n.find(want) != nil
}

// find returns the first notice equal to want but for its CommittedAt, or
// nil.
func (n *notices) find(want storage.Revocation) *storage.Revocation {
	for _, r := range n.snapshot() {
		at := r.CommittedAt
		r.CommittedAt = time.Time{}
		if r == want {
			r.CommittedAt = at
			return &r
		}
	}
	return nil
}

func subscribeNotices(t *testing.T, s *postgres.Store) *notices {
	t.Helper()
	n := &notices{}
	cancel, err := s.Subscribe(n.fn)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(cancel)
	return n
}

// terminate ends the backends of f whose application_name is app or whose
// last statement is f's LISTEN, as an administrator or a server restart
// would, waits until they are gone and returns how many there were.
func terminate(t *testing.T, f *fixture, listener, pool bool) int {
	t.Helper()
	return adminQueryInt(t, f.url, `SELECT count(*) FROM (
	SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
	WHERE pid <> pg_backend_pid() AND datname = current_database()
	  AND (($1 AND application_name = $2 AND query = $3) OR ($4 AND application_name = $5))
) AS terminated`, listener, postgres.ListenerApplicationName, listenQuery(f.channel), pool, f.app)
}

// terminatePID ends one backend and waits until it is gone.
func terminatePID(t *testing.T, f *fixture, pid int) {
	t.Helper()
	if adminQueryInt(t, f.url, `SELECT pg_terminate_backend($1, 5000)::int`, pid) != 1 {
		t.Fatalf("backend %d was not terminated", pid)
	}
}

// listenerPID returns the process ID of the only listener backend on f's
// channel.
func listenerPID(t *testing.T, f *fixture) int {
	t.Helper()
	if n := adminQueryInt(t, f.url, `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND query = $2`, postgres.ListenerApplicationName, listenQuery(f.channel)); n != 1 {
		t.Fatalf("listener backends on the channel: got %d, want 1", n)
	}
	return adminQueryInt(t, f.url, `SELECT pid FROM pg_stat_activity
WHERE application_name = $1 AND query = $2`, postgres.ListenerApplicationName, listenQuery(f.channel))
}

func TestListenerReconnectsAfterItsBackendIsTerminated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var errMu sync.Mutex
	var bgErrs []error
	s := f.store(t, postgres.Options{OnError: func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		bgErrs = append(bgErrs, err)
	}}, nil)
	pid := listenerPID(t, f)
	peer := f.store(t, postgres.Options{}, nil)
	n := subscribeNotices(t, s)

	terminatePID(t, f, pid)
	// One Reset at once, a second one when LISTEN is active again.
	waitFor(t, "two Resets", func() bool { return n.resets() >= 2 })
	if got := n.resets(); got != 2 {
		t.Errorf("Resets after one connection loss: got %d, want 2", got)
	}
	errMu.Lock()
	if len(bgErrs) == 0 {
		t.Error("OnError after a connection loss: got no call, want one")
	}
	errMu.Unlock()

	// Delivery works again, for a revocation made by another instance.
	sess := testSession("user-fault")
	if err := peer.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := peer.RevokeSession(t.Context(), sess.UserID, sess.Handle); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	want := storage.Revocation{UserID: sess.UserID, TokenHash: sess.TokenHash}
	waitFor(t, "the revocation after the reconnect", func() bool { return n.has(want) })
	// And the listener is back, once.
	if got := adminQueryInt(t, f.url, `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND query = $2`, postgres.ListenerApplicationName, listenQuery(f.channel)); got != 2 {
		t.Errorf("listener backends on the channel (this store and its peer): got %d, want 2", got)
	}
}

func TestGetSessionFailsWhenTheServerIsGone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var blocked sync.Mutex
	refuse := false
	s := f.store(t, postgres.Options{}, func(c *pgxpool.Config) {
		// New connections fail while refuse is set: the server is
		// unreachable.
		c.BeforeConnect = func(context.Context, *pgx.ConnConfig) error {
			blocked.Lock()
			defer blocked.Unlock()
			if refuse {
				return errors.New("test: server unreachable")
			}
			return nil
		}
	})
	n := subscribeNotices(t, s)
	sess := testSession("user-gone")
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}

	blocked.Lock()
	refuse = true
	blocked.Unlock()
	if got := terminate(t, f, true, true); got < 2 {
		t.Fatalf("terminated backends (pool and listener): got %d, want at least 2", got)
	}
	for i := range 3 {
		got, err := s.GetSession(t.Context(), sess.TokenHash)
		if err == nil || errors.Is(err, storage.ErrNotFound) || got != nil {
			t.Fatalf("GetSession #%d with the server gone: got %v, %v; want nil and a system error", i+1, got, err)
		}
	}
	waitFor(t, "a Reset for the lost listener", func() bool { return n.resets() >= 1 })

	blocked.Lock()
	refuse = false
	blocked.Unlock()
	waitFor(t, "GetSession to work again", func() bool {
		_, err := s.GetSession(t.Context(), sess.TokenHash)
		return err == nil
	})
	waitFor(t, "the Reset after the listener reconnected", func() bool { return n.resets() >= 2 })
}

func TestCancelledSubscriptionGetsNoReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, postgres.Options{}, nil)
	live := subscribeNotices(t, s)
	stopped := &notices{}
	cancel, err := s.Subscribe(stopped.fn)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	cancel()
	if got := terminate(t, f, true, false); got != 1 {
		t.Fatalf("terminated listener backends: got %d, want 1", got)
	}
	waitFor(t, "two Resets to the live subscription", func() bool { return live.resets() >= 2 })
	if got := stopped.snapshot(); len(got) != 0 {
		t.Errorf("the cancelled subscription: got %v, want no notice", got)
	}
}

// probeCounter counts the test notices a pool sends.
type probeCounter struct{ n atomic.Int64 }

func (c *probeCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "pg_notify") && len(d.Args) == 2 {
		if p, ok := d.Args[1].(string); ok && strings.HasPrefix(p, "?") {
			c.n.Add(1)
		}
	}
	return ctx
}

func (c *probeCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestQuietListenerProvesDeliveryAndKeepsItsConnection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	probes := &probeCounter{}
	errs := &errorLog{}
	s := f.store(t, postgres.Options{
		// Long enough for a test notice's round trip on a loaded machine.
		ListenerPingInterval: 250 * time.Millisecond,
		OnError:              errs.add,
	}, func(c *pgxpool.Config) {
		c.ConnConfig.Tracer = probes
	})
	pid := listenerPID(t, f)
	n := subscribeNotices(t, s)
	waitFor(t, "four test notices", func() bool { return probes.n.Load() >= 4 }) // the first at New, then one per interval

	sess := testSession("user-quiet")
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := s.RevokeSession(t.Context(), sess.UserID, sess.Handle); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	want := storage.Revocation{UserID: sess.UserID, TokenHash: sess.TokenHash}
	waitFor(t, "the revocation", func() bool { return n.has(want) })
	if got := n.resets(); got != 0 {
		t.Errorf("Resets on a quiet but healthy connection: got %d, want 0", got)
	}
	if got := errs.snapshot(); len(got) != 0 {
		t.Errorf("OnError on a healthy connection: got %v, want no call", got)
	}
	if got := listenerPID(t, f); got != pid {
		t.Errorf("listener backend: got pid %d, want the same %d (no reconnection)", got, pid)
	}
}

func TestListenerDetectsASilentPartition(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg, err := pgxpool.ParseConfig(f.url)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	proxy := testproxy.New(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	s := f.store(t, postgres.Options{ListenerPingInterval: 200 * time.Millisecond}, func(c *pgxpool.Config) {
		c.ConnConfig.Host = "127.0.0.1"
		c.ConnConfig.Port = proxy.Port()
		c.ConnConfig.Fallbacks = nil
	})
	peer := f.store(t, postgres.Options{}, nil) // connects directly
	n := subscribeNotices(t, s)

	proxy.Blackhole()
	waitFor(t, "a Reset, then a second one after reconnecting", func() bool { return n.resets() >= 2 })

	sess := testSession("user-partition")
	if err := peer.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := peer.RevokeUserSessions(t.Context(), sess.UserID, storage.TokenHash{}); err != nil {
		t.Fatalf("RevokeUserSessions: %v", err)
	}
	want := storage.Revocation{UserID: sess.UserID}
	waitFor(t, "the revocation through the new connection", func() bool { return n.has(want) })
}
