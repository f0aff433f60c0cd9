package redis_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// percentile returns the p-quantile (0 < p ≤ 1) of d, which it sorts.
func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	i := int(float64(len(d))*p+0.5) - 1
	return d[max(0, min(i, len(d)-1))]
}

// TestPropagationToEightInstances measures how long a revocation takes to
// reach eight application instances (eight stores, each with its own
// client and subscription, as eight processes would have them) on each
// topology: for each of 200 revocations, the time from the start of the
// revoking call on a ninth instance until the last of the eight has the
// notice. It logs p50 and p99 (the README's figures come from
// go test -run TestPropagationToEightInstances -v ./storage/redis) and
// fails if p99 is not well under a second.
func TestPropagationToEightInstances(t *testing.T) {
	for _, tp := range []topology{singleTopology, clusterTopology, sentinelTopology} {
		t.Run(tp.name, func(t *testing.T) {
			const instances, trials = 8, 200
			f := newTopoFixture(t, tp, redis.Options{})
			var target atomic.Pointer[storage.TokenHash]
			arrived := make(chan time.Time, instances*4)
			for range instances {
				s := f.open(t, redis.Options{})
				cancel, err := s.Subscribe(func(r storage.Revocation) {
					if h := target.Load(); h != nil && r.TokenHash == *h {
						arrived <- time.Now()
					}
				})
				if err != nil {
					t.Fatalf("Subscribe: %v", err)
				}
				t.Cleanup(cancel)
			}
			ctx := t.Context()
			delays := make([]time.Duration, 0, trials)
			for range trials {
				x := newSession("prop", time.Now(), time.Hour)
				mustCreate(t, f.store, x)
				target.Store(&x.TokenHash)
				start := time.Now()
				if _, err := f.store.RevokeSession(ctx, "prop", x.Handle); err != nil {
					t.Fatalf("RevokeSession: %v", err)
				}
				var last time.Time
				timeout := time.After(5 * time.Second)
				for range instances {
					select {
					case at := <-arrived:
						last = at
					case <-timeout:
						t.Fatalf("a revocation did not reach all %d instances within 5s", instances)
					}
				}
				delays = append(delays, last.Sub(start))
			}
			p50, p99 := percentile(delays, 0.50), percentile(delays, 0.99)
			t.Logf("%s: revocation reached all %d instances: p50 %v, p99 %v, max %v (%d revocations)",
				tp.name, instances, p50, p99, slices.Max(delays), trials)
			if p99 > time.Second {
				t.Errorf("p99 %v, want well under a second", p99)
			}
		})
	}
}
