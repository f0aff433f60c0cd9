package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
	"github.com/sessionguard/sessionguard/storage/storagetest"
)

// envURL names the environment variable that points the tests at a Redis
// server, e.g. redis://127.0.0.1:6379/0. Without it the tests skip.
const envURL = "SESSION_TEST_REDIS_URL"

// serverOptions returns the client options of the test server, or skips tb
// if none is configured or it does not answer.
func serverOptions(tb testing.TB) *goredis.Options {
	tb.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		tb.Skipf("%s is not set: no Redis server to test against", envURL)
	}
	o, err := goredis.ParseURL(u)
	if err != nil {
		tb.Fatalf("%s: %v", envURL, err)
	}
	c := goredis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Skipf("%s: the Redis server does not answer: %v", envURL, err)
	}
	return o
}

// newClient returns a client on the test server, closed at cleanup. A
// non-empty name is set on every connection (CLIENT SETNAME).
func newClient(tb testing.TB, name string) *goredis.Client {
	tb.Helper()
	return newClientWith(tb, func(o *goredis.Options) { o.ClientName = name })
}

// newClientWith returns a client with the test server's options changed
// by edit, closed at cleanup.
func newClientWith(tb testing.TB, edit func(*goredis.Options)) *goredis.Client {
	tb.Helper()
	o, err := goredis.ParseURL(os.Getenv(envURL))
	if err != nil {
		tb.Fatal(err)
	}
	edit(o)
	c := goredis.NewClient(o)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// randomPrefix returns a key prefix no other test uses, and deletes every
// key under it at cleanup (SCAN + DEL; never FLUSHDB: the server is shared).
func randomPrefix(tb testing.TB, o *goredis.Options) string {
	tb.Helper()
	p := "sgtest:" + rand.Text() + ":"
	tb.Cleanup(func() {
		c := goredis.NewClient(o)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup: scan %s*: %v", p, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				tb.Errorf("cleanup: del: %v", err)
				return
			}
			keys = keys[n:]
		}
	})
	return p
}

// fixture is one isolated store on the test server and what a test needs
// to look behind its back.
type fixture struct {
	store  *redis.Store
	raw    *goredis.Client // a plain client on the same server
	prefix string
	opts   *goredis.Options
}

// newFixture returns a fresh store with its own prefix, closed at cleanup.
func newFixture(tb testing.TB, opts redis.Options) *fixture {
	tb.Helper()
	o := serverOptions(tb)
	f := &fixture{opts: o, prefix: randomPrefix(tb, o), raw: newClient(tb, "")}
	opts.Prefix = f.prefix
	f.store = f.open(tb, opts, "")
	return f
}

// open opens another store on the fixture's prefix (a second application
// instance) whose connections carry name, closed at cleanup.
func (f *fixture) open(tb testing.TB, opts redis.Options, name string) *redis.Store {
	tb.Helper()
	opts.Prefix = f.prefix
	s, err := redis.New(newClient(tb, name), opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	serverOptions(t)
	var mu sync.Mutex
	fixtures := map[storage.Store]*fixture{}
	storagetest.Run(t, func(t *testing.T) storage.Store {
		f := newFixture(t, redis.Options{})
		mu.Lock()
		fixtures[f.store] = f
		mu.Unlock()
		return f.store
	}, storagetest.WithPeer(func(t *testing.T, s storage.Store) storage.Store {
		mu.Lock()
		f := fixtures[s]
		mu.Unlock()
		return f.open(t, redis.Options{}, "")
	}))
}

func TestNewRefusesBadClients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		client goredis.UniversalClient
		prefix string
	}{
		{"a nil client is refused", nil, ""},
		{"a prefix holding a brace is refused on a cluster", goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), "app{1}:"},
		{"a cluster client that reads from replicas is refused", goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ReadOnly: true}), ""},
		{"a cluster client that routes by latency is refused", goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, RouteByLatency: true}), ""},
		{"a Sentinel cluster client (reads from replicas) is refused", goredis.NewFailoverClusterClient(&goredis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}), ""},
		{"a ring client is refused", goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.client != nil {
				defer tt.client.Close()
			}
			s, err := redis.New(tt.client, redis.Options{Prefix: tt.prefix})
			if err == nil || !strings.HasPrefix(err.Error(), "storage/redis: ") {
				t.Errorf("got %v, %v; want a storage/redis error", s, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
	}{
		{"a URL of another scheme is refused", "http://127.0.0.1:6379"},
		{"an unparsable URL is refused without echoing its password", "redis://user:s3cret@[::1"},
		{"a server that does not answer is an error", "redis://user:s3cret@127.0.0.1:1/0"},
		{"a cluster that does not answer is an error", "redis://user:s3cret@127.0.0.1:1?addr=127.0.0.1:2"},
		{"a Sentinel that does not answer is an error", "redis://user:s3cret@127.0.0.1:1?master_name=m"},
		{"an empty master name is refused", "redis://user:s3cret@127.0.0.1:26379?master_name="},
		{"a database other than 0 on a cluster is refused", "redis://user:s3cret@127.0.0.1:7001/2?addr=127.0.0.1:7002"},
		{"a db parameter on a cluster is refused", "redis://user:s3cret@127.0.0.1:7001?addr=127.0.0.1:7002&db=1"},
		{"reading from Sentinel replicas is refused", "redis://user:s3cret@127.0.0.1:26379?master_name=m&replica_only=true"},
		{"reading from cluster replicas is refused", "redis://user:s3cret@127.0.0.1:7001?addr=127.0.0.1:7002&read_only=true"},
		{"routing cluster reads by latency is refused", "redis://user:s3cret@127.0.0.1:7001?addr=127.0.0.1:7002&route_by_latency=true"},
		{"an unparsable cluster address is refused", "redis://user:s3cret@127.0.0.1:7001?addr=nonsense"},
		{"an unknown parameter is refused", "redis://user:s3cret@127.0.0.1:6379?no_such_option=1"},
		{"a failover URL of another scheme is refused", "http://user:s3cret@127.0.0.1:26379?master_name=m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			s, err := redis.Open(ctx, tt.url, redis.Options{})
			if err == nil {
				s.Close()
				t.Fatal("got nil error, want one")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "storage/redis: ") || strings.Contains(msg, "s3cret") {
				t.Errorf("got error %q, want a storage/redis error without the password", msg)
			}
		})
	}
}

func TestOpenOwnsTheClient(t *testing.T) {
	t.Parallel()
	serverOptions(t)
	p := randomPrefix(t, serverOptions(t))
	s, err := redis.Open(t.Context(), os.Getenv(envURL), redis.Options{Prefix: p})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.CountRecoveryCodes(t.Context(), "u"); err != nil {
		t.Fatalf("CountRecoveryCodes: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.CountRecoveryCodes(t.Context(), "u"); err == nil {
		t.Error("CountRecoveryCodes after Close: got nil error, want the closed client's")
	}
	if _, err := s.Subscribe(func(storage.Revocation) {}); err == nil {
		t.Error("Subscribe after Close: got nil error, want one")
	}
}

func TestCancelledContextIsReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.store.GetSession(ctx, storage.HashToken([]byte("x")))
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "storage/redis: ") {
		t.Errorf("got %v, want a storage/redis error wrapping context.Canceled", err)
	}
}

func TestOpenAcceptsEveryTopologyURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  string
		edit func(string) string
	}{
		{"a single server URL opens a store", envURL, nil},
		{"a cluster URL (go-redis' form, with addr parameters) opens a store", envClusterURL, nil},
		{"a URL of one cluster node without addr parameters opens a cluster store", envClusterURL, func(u string) string {
			base, _, _ := strings.Cut(u, "?")
			return base
		}},
		{"a Sentinel URL (go-redis' failover form, with master_name) opens a store", envSentinelURL, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := os.Getenv(tt.env)
			if u == "" {
				t.Skipf("%s is not set: no server to open", tt.env)
			}
			if tt.edit != nil {
				u = tt.edit(u)
			}
			prefix := "sgtest:" + rand.Text() + ":"
			s, err := redis.Open(t.Context(), u, redis.Options{Prefix: prefix})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			ctx := t.Context()
			x := newSession("open", time.Now(), time.Hour)
			mustCreate(t, s, x)
			if tt.env == envClusterURL {
				// The store must use the cluster layout: its keys carry
				// the prefix as their hash tag.
				c := clusterTopology.client(t)
				if n, err := c.Exists(ctx, "{"+prefix+"}s:"+x.TokenHash.String()).Result(); err != nil || n != 1 {
					t.Errorf("EXISTS of the tagged session key: got %d, %v; want 1", n, err)
				}
			}
			if _, err := s.RevokeUserSessions(ctx, "open", storage.TokenHash{}); err != nil {
				t.Fatalf("RevokeUserSessions: %v", err)
			}
			if _, err := s.GetSession(ctx, x.TokenHash); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("GetSession after the revocation: got %v, want ErrNotFound", err)
			}
			if _, err := s.ListEvents(ctx, "open", 0, 1); err != nil {
				t.Errorf("ListEvents: %v", err)
			}
		})
	}
}
