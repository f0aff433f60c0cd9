package redis_test

import (
	"context"
	"crypto/rand"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
	"github.com/sessionguard/sessionguard/storage/storagetest"
)

// The environment variables that point the topology tests at a Redis
// Cluster (go-redis' cluster URL form) and at a Sentinel set (go-redis'
// failover URL form). .ci/run starts both and sets them.
const (
	envClusterURL  = "SESSION_TEST_REDIS_CLUSTER_URL"
	envSentinelURL = "SESSION_TEST_REDIS_SENTINEL_URL"
)

// topology opens clients on one kind of deployment.
type topology struct {
	name string
	env  string
	// open returns a new client on the deployment.
	open func(tb testing.TB, url string) goredis.UniversalClient
}

var (
	singleTopology = topology{
		name: "single", env: envURL,
		open: func(tb testing.TB, u string) goredis.UniversalClient {
			o, err := goredis.ParseURL(u)
			if err != nil {
				tb.Fatalf("%s: %v", envURL, err)
			}
			return goredis.NewClient(o)
		},
	}
	clusterTopology = topology{
		name: "cluster", env: envClusterURL,
		open: func(tb testing.TB, u string) goredis.UniversalClient {
			o, err := goredis.ParseClusterURL(u)
			if err != nil {
				tb.Fatalf("%s: %v", envClusterURL, err)
			}
			return goredis.NewClusterClient(o)
		},
	}
	sentinelTopology = topology{
		name: "sentinel", env: envSentinelURL,
		open: func(tb testing.TB, u string) goredis.UniversalClient {
			o, err := goredis.ParseFailoverURL(u)
			if err != nil {
				tb.Fatalf("%s: %v", envSentinelURL, err)
			}
			return goredis.NewFailoverClient(o)
		},
	}
)

// client returns a client on the topology, closed at cleanup, or skips tb
// if the topology is not configured or does not answer.
func (tp topology) client(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	u := os.Getenv(tp.env)
	if u == "" {
		tb.Skipf("%s is not set: no Redis %s to test against", tp.env, tp.name)
	}
	c := tp.open(tb, u)
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Skipf("%s: the Redis %s does not answer: %v", tp.env, tp.name, err)
	}
	return c
}

// topoFixture is a store with its own prefix on a topology.
type topoFixture struct {
	tp     topology
	prefix string
	store  *redis.Store
}

// newTopoFixture opens a store on tp with a fresh prefix whose keys are
// deleted at cleanup.
func newTopoFixture(tb testing.TB, tp topology, opts redis.Options) *topoFixture {
	tb.Helper()
	c := tp.client(tb)
	f := &topoFixture{tp: tp, prefix: "sgtest:" + rand.Text() + ":"}
	tb.Cleanup(func() { deleteKeys(tb, c, f.prefix) })
	f.store = f.open(tb, opts)
	return f
}

// open opens another store (another application instance, with its own
// client) on the fixture's prefix, closed at cleanup.
func (f *topoFixture) open(tb testing.TB, opts redis.Options) *redis.Store {
	tb.Helper()
	opts.Prefix = f.prefix
	s, err := redis.New(f.tp.client(tb), opts)
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

// deleteKeys deletes every key of prefix: on a cluster they are all in the
// slot of the hash tag {prefix}, on its primary.
func deleteKeys(tb testing.TB, c goredis.UniversalClient, prefix string) {
	ctx := context.Background()
	pattern := prefix + "*"
	var node goredis.Cmdable = c
	if cc, ok := c.(*goredis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, "{"+prefix+"}")
		if err != nil {
			tb.Errorf("cleanup: %v", err)
			return
		}
		node, pattern = m, "{"+prefix+"}*"
	}
	iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		if err := node.Del(ctx, iter.Val()).Err(); err != nil {
			tb.Errorf("cleanup: del: %v", err)
			return
		}
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("cleanup: scan %s: %v", pattern, err)
	}
}

// conformance runs the whole conformance suite on tp, with a second
// client on the same prefix as the peer.
func conformance(t *testing.T, tp topology) {
	tp.client(t)
	var mu sync.Mutex
	fixtures := map[storage.Store]*topoFixture{}
	storagetest.Run(t, func(t *testing.T) storage.Store {
		f := newTopoFixture(t, tp, redis.Options{})
		mu.Lock()
		fixtures[f.store] = f
		mu.Unlock()
		return f.store
	}, storagetest.WithPeer(func(t *testing.T, s storage.Store) storage.Store {
		mu.Lock()
		f := fixtures[s]
		mu.Unlock()
		return f.open(t, redis.Options{})
	}))
}

func TestConformanceCluster(t *testing.T)  { conformance(t, clusterTopology) }
func TestConformanceSentinel(t *testing.T) { conformance(t, sentinelTopology) }
