package postgres_test

import (
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/internal/testproxy"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// These tests run application instances (session Managers, each with its
// own pool through PgBouncer) on one database, as a deployment behind a
// load balancer and a transaction pooler would, in both setups that work
// there: a direct LISTEN connection per instance, and the feed alone.

// instance is one application instance.
type instance struct {
	m     *session.Manager
	store *postgres.Store
	pool  *pgxpool.Pool
}

// newInstance opens a store through PgBouncer (through via, a
// "host:port", if not empty) with opts and a Manager on it whose
// RevocationTTL is a minute, so that only the notifier can make it see a
// revocation in time.
func newInstance(t *testing.T, f *fixture, url, via string, keys []session.KeyPair, opts postgres.Options) *instance {
	t.Helper()
	pool := f.bouncerPool(t, url, pgx.QueryExecModeCacheDescribe, func(c *pgxpool.Config) {
		c.ConnConfig.ConnectTimeout = 2 * time.Second
		if via != "" {
			host, port, _ := net.SplitHostPort(via)
			p, _ := strconv.Atoi(port)
			c.ConnConfig.Host, c.ConnConfig.Port, c.ConnConfig.Fallbacks = host, uint16(p), nil
		}
	})
	s, err := postgres.New(t.Context(), pool, opts)
	if err != nil {
		t.Fatalf("postgres.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m, err := session.New(session.Config{
		Store:         s,
		Keys:          keys,
		RevocationTTL: time.Minute,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return &instance{m: m, store: s, pool: pool}
}

func signIn(t testing.TB, m *session.Manager, userID string) (string, *session.Session) {
	t.Helper()
	w := httptest.NewRecorder()
	s, err := m.Login(w, httptest.NewRequest("POST", "https://app.example/login", nil), userID, storage.AuthPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return w.Result().Cookies()[0].Value, s
}

func withCookie(m *session.Manager, v string) *http.Request {
	r := httptest.NewRequest("GET", "https://app.example/", nil)
	r.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: v}) // the Managers here keep the default name
	return r
}

// waitRevoked polls every instance until each rejects cookie as revoked,
// and returns how long each took after start.
func waitRevoked(t *testing.T, instances []*instance, cookie string, start time.Time, limit time.Duration) []time.Duration {
	t.Helper()
	delays := make([]time.Duration, len(instances))
	left := len(instances)
	for left > 0 {
		for i, in := range instances {
			if delays[i] != 0 {
				continue
			}
			_, err := in.m.Check(withCookie(in.m, cookie))
			switch {
			case errors.Is(err, session.ErrRevoked):
				delays[i] = time.Since(start)
				left--
			case err != nil && !errors.Is(err, session.ErrUnavailable):
				t.Fatalf("instance %d: unexpected error %v", i, err)
			}
		}
		if time.Since(start) > limit {
			t.Fatalf("%d of %d instances still accepted a revoked session after %v", left, len(instances), limit)
		}
		time.Sleep(time.Millisecond)
	}
	return delays
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// propagationInstances and propagationTrials size the propagation test,
// run with propagationFeedInterval.
const (
	propagationInstances    = 8
	propagationTrials       = 100
	propagationFeedInterval = 100 * time.Millisecond
)

// schedulingSlack is how late a loaded 2-core CI machine may run a
// goroutine or a statement beyond a bound under test.
const schedulingSlack = 500 * time.Millisecond

// arrival records when a store's subscriber first heard of one user's
// revocation (a notice for the user, or a Reset).
type arrival struct {
	mu   sync.Mutex
	user string
	at   time.Time
}

func (a *arrival) fn(r storage.Revocation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at.IsZero() && a.user != "" && (r.Reset || r.UserID == a.user) {
		a.at = time.Now()
	}
}

// expect starts waiting for user's revocation.
func (a *arrival) expect(user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.user, a.at = user, time.Time{}
}

func (a *arrival) when() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.at
}

func TestRevocationPropagatesToEightInstancesThroughPgBouncer(t *testing.T) {
	url := bouncerURL(t)
	for _, d := range deliveries {
		t.Run(d.name, func(t *testing.T) {
			f := newFixture(t)
			keys := []session.KeyPair{mustKeys(t)}
			instances := make([]*instance, propagationInstances)
			arrivals := make([]*arrival, propagationInstances)
			opts := d.opts(f)
			opts.FeedInterval = propagationFeedInterval
			for i := range instances {
				instances[i] = newInstance(t, f, url, "", keys, opts)
				arrivals[i] = &arrival{}
				cancel, err := instances[i].store.Subscribe(arrivals[i].fn)
				if err != nil {
					t.Fatalf("Subscribe: %v", err)
				}
				t.Cleanup(cancel)
			}
			bound := instances[0].store.NotifyBound()
			a := instances[0]
			ctx := t.Context()
			var all, each, notified []time.Duration
			for i := range propagationTrials {
				// One user per trial, so that each notice is told apart.
				user := "user-" + strconv.Itoa(i)
				_, keep := signIn(t, a.m, user)
				cookie, s := signIn(t, instances[1+i%(len(instances)-1)].m, user)
				for _, in := range instances {
					if _, err := in.m.Check(withCookie(in.m, cookie)); err != nil {
						t.Fatalf("Check before the revocation: %v", err) // every instance caches it live
					}
				}
				for _, ar := range arrivals {
					ar.expect(user)
				}
				// A random phase against the feed's reads.
				time.Sleep(rand.N(50 * time.Millisecond))
				start := time.Now()
				var err error
				if i%2 == 0 {
					err = a.m.Revoke(ctx, session.Audit{}, user, s.Handle)
				} else {
					_, err = a.m.RevokeOthers(ctx, session.Audit{}, keep)
				}
				if err != nil {
					t.Fatalf("revoke: %v", err)
				}
				delays := waitRevoked(t, instances, cookie, start, 10*time.Second)
				all = append(all, slices.Max(delays))
				each = append(each, delays...)
				// The revoking instance refuses at once; its own
				// subscriber hears of it like every other's.
				var last time.Duration
				for _, ar := range arrivals {
					waitFor(t, "every subscriber to hear of the revocation", func() bool { return !ar.when().IsZero() })
					last = max(last, ar.when().Sub(start))
				}
				notified = append(notified, last)
			}
			conns := 0
			for _, in := range instances {
				conns = max(conns, int(in.pool.Stat().TotalConns()))
			}
			listeners := adminQueryInt(t, f.url, `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND query = $2`, postgres.ListenerApplicationName, listenQuery(f.channel))
			t.Logf("%s through PgBouncer, %d trials: revocation on one instance refused by all %d: p50 %v, p99 %v, max %v; "+
				"by each: p50 %v, p99 %v; notifier delivered to all: p50 %v, p99 %v, max %v (NotifyBound %v); "+
				"per instance: at most %d pool connections to PgBouncer, %d direct listener connection(s)",
				d.name, propagationTrials, len(instances), percentile(all, 0.5), percentile(all, 0.99), slices.Max(all),
				percentile(each, 0.5), percentile(each, 0.99),
				percentile(notified, 0.5), percentile(notified, 0.99), slices.Max(notified), bound,
				conns, listeners/len(instances))
			// The bound is the notifier's (what a Manager shows adds a
			// storage read); a loaded machine may run it late.
			if got := slices.Max(notified); got > bound+schedulingSlack {
				t.Errorf("slowest delivery %v exceeds NotifyBound %v by more than %v", got, bound, schedulingSlack)
			}
			wantListeners := len(instances)
			if d.opts(f).FeedOnly {
				wantListeners = 0
			}
			if listeners != wantListeners {
				t.Errorf("direct listener connections: got %d, want %d", listeners, wantListeners)
			}
		})
	}
}

// TestOutageThroughPgBouncerFailsClosedAndRecovers cuts instance B's
// connections to PgBouncer: B must answer 503 rather than trust its cache
// once its notifier cannot prove delivery; a revocation made on A meanwhile
// must hold on B once the path is back, and B's notifier must resume.
func TestOutageThroughPgBouncerFailsClosedAndRecovers(t *testing.T) {
	url := bouncerURL(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	bouncer := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	for _, d := range deliveries {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			proxy := testproxy.New(t, bouncer)
			keys := []session.KeyPair{mustKeys(t)}
			opts := d.opts(f)
			opts.ListenerPingInterval = 200 * time.Millisecond
			opts.FeedInterval = 100 * time.Millisecond
			var deliveryErrs atomic.Int64
			a := newInstance(t, f, url, "", keys, opts)
			b := newInstance(t, f, url, proxy.Addr(), keys, opts)
			stop := b.store.OnDeliveryError(func(error) { deliveryErrs.Add(1) })
			defer stop()
			ctx := t.Context()
			user := "user-" + f.schema
			victimCookie, victim := signIn(t, a.m, user)
			keepCookie, keep := signIn(t, a.m, user)
			for _, v := range []string{victimCookie, keepCookie} {
				if _, err := b.m.Check(withCookie(b.m, v)); err != nil {
					t.Fatalf("Check: %v", err)
				}
			}
			reached := false
			h := b.m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			serve := func(cookie string) int {
				reached = false
				w := httptest.NewRecorder()
				h.ServeHTTP(w, withCookie(b.m, cookie))
				if w.Code == http.StatusServiceUnavailable && reached {
					t.Fatal("the handler ran on a 503")
				}
				return w.Code
			}

			proxy.Cut()
			cut := time.Now()
			for serve(keepCookie) != http.StatusServiceUnavailable {
				if time.Since(cut) > 10*time.Second {
					t.Fatal("instance B kept authenticating from its cache without its store")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if d := time.Since(cut); d > b.store.NotifyBound()+schedulingSlack {
				t.Errorf("B trusted its cache %v after the cut, want at most NotifyBound %v (+%v)", d, b.store.NotifyBound(), schedulingSlack)
			}
			if err := a.m.Revoke(ctx, session.Audit{}, user, victim.Handle); err != nil {
				t.Fatalf("Revoke on A: %v", err)
			}
			proxy.Restore()

			deadline := time.Now().Add(15 * time.Second)
			for serve(keepCookie) != http.StatusOK || !reached {
				if time.Now().After(deadline) {
					t.Fatal("instance B did not recover after the path came back")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if _, err := b.m.Check(withCookie(b.m, victimCookie)); !errors.Is(err, session.ErrRevoked) {
				t.Fatalf("a session revoked during the outage: got %v on B, want ErrRevoked", err)
			}
			if deliveryErrs.Load() == 0 {
				t.Error("OnDeliveryError during the outage: got no call, want one")
			}
			// The notifier is back: a new revocation reaches B within its
			// bound.
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			if _, err := a.m.RevokeAll(ctx, session.Audit{}, keep.UserID); err != nil {
				t.Fatalf("RevokeAll: %v", err)
			}
			got := waitRevoked(t, []*instance{b}, keepCookie, start, 5*time.Second)[0]
			t.Logf("%s: revocation after recovery seen by B in %v", d.name, got)
		})
	}
}

func mustKeys(t testing.TB) session.KeyPair {
	t.Helper()
	k, err := session.GenerateKeyPair()
	if err != nil {
		t.Fatalf("GenerateKeyPair: %v", err)
	}
	return k
}
