package session_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/internal/testproxy"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
	"github.com/sessionguard/sessionguard/storage/postgres"
	"github.com/sessionguard/sessionguard/storage/redis"
	"github.com/sessionguard/sessionguard/storage/sqlite"
)

// These tests run two Managers — two app instances, each with its own
// connection pool or client — against one backing store, as a deployment
// behind a load balancer would, and measure how fast a revocation on one
// is honoured by the other.

// backend opens stores on one shared backing store. via, when non-empty,
// is a "host:port" to connect through instead of the server's own address
// (a fault-injection proxy).
type backend struct {
	name string
	// open returns a new client on the shared data; server is the real
	// "host:port" (empty for in-process backends).
	open   func(t *testing.T, via string) storage.Store
	server string
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func memoryBackend(t *testing.T) backend {
	s := memory.New(memory.Options{})
	t.Cleanup(func() { s.Close() })
	return backend{name: "memory", open: func(*testing.T, string) storage.Store { return s }}
}

// sqliteBackend opens the same database file once per instance, as two
// processes on one machine would. The test polls every 20 ms (default
// PollInterval: 250 ms).
func sqliteBackend(t *testing.T) backend {
	path := filepath.Join(t.TempDir(), "sessions.db")
	return backend{name: "sqlite", open: func(t *testing.T, _ string) storage.Store {
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}}
}

func postgresBackend(t *testing.T) backend {
	url := os.Getenv("SESSION_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("set SESSION_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL multi-instance tests")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Skipf("SESSION_TEST_POSTGRES_URL: server unreachable: %v", err)
	}
	schema := randomName("sg_instances_")
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	server := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	channel := randomName("sg_rev_")
	return backend{name: "postgres", server: server, open: func(t *testing.T, via string) storage.Store {
		cfg, _ := pgxpool.ParseConfig(url)
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		cfg.ConnConfig.ConnectTimeout = 2 * time.Second
		if via != "" {
			host, port, _ := net.SplitHostPort(via)
			p, _ := strconv.Atoi(port)
			cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := postgres.New(ctx, pool, postgres.Options{Channel: channel, ListenerPingInterval: time.Second})
		if err != nil {
			pool.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); pool.Close() })
		return s
	}}
}

func redisBackend(t *testing.T) backend {
	url := os.Getenv("SESSION_TEST_REDIS_URL")
	if url == "" {
		t.Skip("set SESSION_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run the Redis multi-instance tests")
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	admin := goredis.NewClient(opts)
	if err := admin.Ping(context.Background()).Err(); err != nil {
		t.Skipf("SESSION_TEST_REDIS_URL: server unreachable: %v", err)
	}
	prefix := randomName("sgtest:") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := admin.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			admin.Del(ctx, iter.Val())
		}
		admin.Close()
	})
	return backend{name: "redis", server: opts.Addr, open: func(t *testing.T, via string) storage.Store {
		o := *opts
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = time.Second, time.Second, time.Second
		o.MaxRetries = -1
		if via != "" {
			o.Addr = via
		}
		client := goredis.NewClient(&o)
		s, err := redis.New(client, redis.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); client.Close() })
		return s
	}}
}

// redisTopologyBackend is redisBackend on a Redis Cluster or a Sentinel
// set, opened from go-redis' URL form in env with [redis.Open], as an app
// would. Each instance is its own client on the topology.
func redisTopologyBackend(name, env, example string) func(t *testing.T) backend {
	return func(t *testing.T) backend {
		url := os.Getenv(env)
		if url == "" {
			t.Skipf("set %s (e.g. %s) to run the multi-instance tests on it", env, example)
		}
		prefix := randomName("sgtest:") + ":"
		open := func(t *testing.T, via string) storage.Store {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := redis.Open(ctx, url, redis.Options{Prefix: prefix})
			if err != nil {
				t.Fatalf("%s: %v", env, err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		t.Cleanup(func() {
			// Revocations delete the sessions; what the tests leave is
			// swept by TTL. Delete it now all the same, on every primary.
			var admin goredis.UniversalClient
			if o, err := goredis.ParseClusterURL(url); err == nil && len(o.Addrs) > 0 && !strings.Contains(url, "master_name=") {
				admin = goredis.NewClusterClient(o)
			} else if o, err := goredis.ParseFailoverURL(url); err == nil {
				admin = goredis.NewFailoverClient(o)
			} else {
				return
			}
			defer admin.Close()
			ctx := context.Background()
			del := func(ctx context.Context, c *goredis.Client) error {
				iter := c.Scan(ctx, 0, "*"+prefix[:len(prefix)-1]+"*", 1000).Iterator()
				for iter.Next(ctx) {
					c.Del(ctx, iter.Val())
				}
				return iter.Err()
			}
			if cc, ok := admin.(*goredis.ClusterClient); ok {
				_ = cc.ForEachMaster(ctx, del)
			} else if c, ok := admin.(*goredis.Client); ok {
				_ = del(ctx, c)
			}
		})
		return backend{name: name, open: open}
	}
}

// newInstance is one app instance: a Manager on its own client.
func newInstance(t *testing.T, store storage.Store, keys []session.KeyPair) *session.Manager {
	m, err := session.New(session.Config{
		Store:  store,
		Keys:   keys,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func signIn(t *testing.T, m *session.Manager, userID string) (string, *session.Session) {
	t.Helper()
	w := httptest.NewRecorder()
	s, err := m.Login(w, httptest.NewRequest("POST", "https://app.example/login", nil), userID, storage.AuthPassword)
	if err != nil {
		t.Fatal(err)
	}
	return w.Result().Cookies()[0].Value, s
}

func withCookie(m *session.Manager, v string) *http.Request {
	r := httptest.NewRequest("GET", "https://app.example/", nil)
	r.AddCookie(&http.Cookie{Name: session.CookieNameOf(m), Value: v})
	return r
}

// waitRevoked polls m until it rejects the cookie as revoked and returns
// how long that took.
func waitRevoked(t *testing.T, m *session.Manager, cookie string, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		_, err := m.Check(withCookie(m, cookie))
		if errors.Is(err, session.ErrRevoked) {
			return time.Since(start)
		}
		if err != nil && !errors.Is(err, session.ErrUnavailable) {
			t.Fatalf("unexpected error: %v", err)
		}
		if time.Since(start) > limit {
			t.Fatalf("instance B still accepted a revoked session after %v", limit)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func TestRevocationAcrossInstances(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(*testing.T) backend{
		"memory": memoryBackend, "sqlite": sqliteBackend, "postgres": postgresBackend, "redis": redisBackend,
		"redis-cluster": redisTopologyBackend("redis-cluster", "SESSION_TEST_REDIS_CLUSTER_URL",
			"redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003"),
		"redis-sentinel": redisTopologyBackend("redis-sentinel", "SESSION_TEST_REDIS_SENTINEL_URL",
			"redis://127.0.0.1:26391?master_name=sessionguard"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			be := mk(t)
			keys := []session.KeyPair{mustKeys(t)}
			a := newInstance(t, be.open(t, ""), keys)
			b, bMetrics := newMeasuredInstance(t, be.open(t, ""), keys, 0)
			ctx := context.Background()

			t.Run("revoke-others and revoke-all on A end the sessions on B", func(t *testing.T) {
				user := randomName("user-")
				keepCookie, keep := signIn(t, a, user)
				var victims []string
				for range 3 {
					v, _ := signIn(t, b, user)
					victims = append(victims, v)
				}
				for _, v := range append(victims, keepCookie) {
					if _, err := b.Check(withCookie(b, v)); err != nil {
						t.Fatal(err) // B now caches every session as live
					}
				}
				start := time.Now()
				if n, err := a.RevokeOthers(ctx, session.Audit{}, keep); err != nil || n != 3 {
					t.Fatalf("RevokeOthers = %d, %v", n, err)
				}
				for _, v := range victims {
					waitRevoked(t, b, v, start, 5*time.Second)
				}
				if _, err := b.Check(withCookie(b, keepCookie)); err != nil {
					t.Errorf("the kept session on B: %v", err)
				}
				start = time.Now()
				if _, err := a.RevokeAll(ctx, session.Audit{}, user); err != nil {
					t.Fatal(err)
				}
				waitRevoked(t, b, keepCookie, start, 5*time.Second)
			})

			t.Run("propagation delay over 200 trials", func(t *testing.T) {
				user := randomName("user-")
				_, keep := signIn(t, a, user)
				var delays []time.Duration
				for i := range 200 {
					v, s := signIn(t, b, user)
					if _, err := b.Check(withCookie(b, v)); err != nil {
						t.Fatal(err)
					}
					start := time.Now()
					var err error
					if i%2 == 0 {
						err = a.Revoke(ctx, session.Audit{}, user, s.Handle)
					} else {
						_, err = a.RevokeOthers(ctx, session.Audit{}, keep)
					}
					if err != nil {
						t.Fatal(err)
					}
					delays = append(delays, waitRevoked(t, b, v, start, 5*time.Second))
				}
				p50, p99 := percentile(delays, 0.50), percentile(delays, 0.99)
				t.Logf("%s: revocation on A seen by B: p50 %v, p99 %v, max %v (RevocationTTL %v)",
					be.name, p50, p99, slices.Max(delays), session.RevocationTTLOf(b))
				if p99 > session.RevocationTTLOf(b)/30 {
					t.Errorf("p99 %v is not well under RevocationTTL %v", p99, session.RevocationTTLOf(b))
				}
				// Every notice's lag, measured by B from the notice's own
				// commit time, is recorded, and none exceeds the slowest
				// revocation B saw (plus the skew of the servers' clocks,
				// on this host none, and the bound of the first subtest).
				if n := histogramCount(t, bMetrics, session.MetricNotifierLag); n < 200 {
					t.Errorf("%s: notice lags measured on B: got %d, want at least 200", be.name, n)
				}
				got, bound := histogramMax(t, bMetrics, session.MetricNotifierLag), 5*time.Second+time.Second
				if got > bound {
					t.Errorf("%s: longest notice lag on B: got %v, want at most %v", be.name, got, bound)
				}
				t.Logf("%s: longest notice lag measured by B (%s): %v", be.name, session.MetricNotifierLag, got)
			})
		})
	}
}

// TestStoreOutageFailsClosedAndRecovers cuts instance B's connections to
// the server: B must answer 503 rather than trust what it cannot check; a
// revocation made on A meanwhile must hold on B once the server is back,
// and B's notifier must resume.
func TestStoreOutageFailsClosedAndRecovers(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(*testing.T) backend{"postgres": postgresBackend, "redis": redisBackend} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			be := mk(t)
			proxy := testproxy.New(t, be.server)
			keys := []session.KeyPair{mustKeys(t)}
			a := newInstance(t, be.open(t, ""), keys)
			b := newInstance(t, be.open(t, proxy.Addr()), keys)
			ctx := context.Background()
			user := randomName("user-")
			victimCookie, victim := signIn(t, a, user)
			keepCookie, keep := signIn(t, a, user)
			for _, v := range []string{victimCookie, keepCookie} {
				if _, err := b.Check(withCookie(b, v)); err != nil {
					t.Fatal(err)
				}
			}

			reached := false
			h := b.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			serve := func(cookie string) int {
				reached = false
				w := httptest.NewRecorder()
				h.ServeHTTP(w, withCookie(b, cookie))
				if w.Code == http.StatusServiceUnavailable && reached {
					t.Fatal("the handler ran on a 503")
				}
				return w.Code
			}

			proxy.Cut()
			deadline := time.Now().Add(10 * time.Second)
			for serve(keepCookie) != http.StatusServiceUnavailable {
				if time.Now().After(deadline) {
					t.Fatal("instance B kept authenticating without its store")
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Health says so: the store does not answer, and the notifier
			// is down (once it noticed: within its ping interval).
			for h := b.Health(ctx); h.Ready() || h.Notifier.Live || h.Notifier.DownSince.IsZero(); h = b.Health(ctx) {
				if time.Now().After(deadline) {
					t.Fatalf("Health of B during the outage: got %+v, want not ready, notifier down with its time", h)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := a.Revoke(ctx, session.Audit{}, user, victim.Handle); err != nil {
				t.Fatal(err)
			}
			proxy.Restore()

			deadline = time.Now().Add(15 * time.Second)
			for serve(keepCookie) != http.StatusOK || !reached {
				if time.Now().After(deadline) {
					t.Fatal("instance B did not recover after the store came back")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if _, err := b.Check(withCookie(b, victimCookie)); !errors.Is(err, session.ErrRevoked) {
				t.Fatalf("a session revoked during the outage: got %v on B, want ErrRevoked", err)
			}
			// The notifier is back: a new revocation reaches B in far less
			// than RevocationTTL (its reconnect may take a moment), and
			// Health says so.
			// The store's own bound (RevocationTTL adopts it: for PostgreSQL
			// two listener ping intervals) covers the listener proving itself
			// again, which can take a ping interval after the reconnect.
			deadline = time.Now().Add(session.RevocationTTLOf(b) + 5*time.Second)
			for h := b.Health(ctx); !h.Ready() || !h.Notifier.Live; h = b.Health(ctx) {
				if time.Now().After(deadline) {
					t.Fatalf("Health of B after recovery: got %+v, want ready with a live notifier", h)
				}
				time.Sleep(20 * time.Millisecond)
			}
			start := time.Now()
			if _, err := a.RevokeAll(ctx, session.Audit{}, keep.UserID); err != nil {
				t.Fatal(err)
			}
			d := waitRevoked(t, b, keepCookie, start, 5*time.Second)
			t.Logf("%s: revocation after recovery seen by B in %v", be.name, d)
		})
	}
}

func mustKeys(t *testing.T) session.KeyPair {
	k, err := session.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
