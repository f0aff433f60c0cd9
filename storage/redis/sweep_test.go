package redis_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage/redis"
)

// TestBackgroundSweepRemovesIndexEntriesOfExpiredSessions lets sessions
// expire without anyone listing or revoking them, as most do: their keys
// vanish by TTL, and the store's own sweep must remove what the TTL cannot
// (the user index entry and the sweep-set member), or they pile up
// forever.
func TestBackgroundSweepRemovesIndexEntriesOfExpiredSessions(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	f := newFixture(t, redis.Options{
		SweepInterval: 10 * time.Millisecond,
		Now:           func() time.Time { return time.Unix(0, clock.Load()) },
	})
	live := newSession("judy", start, 2*time.Hour)
	mustCreate(t, f.store, live)
	for range 3 {
		mustCreate(t, f.store, newSession("judy", start, time.Hour))
	}
	mustCreate(t, f.store, newSession("mallory", start, time.Hour))
	clock.Store(start.Add(90 * time.Minute).UnixNano())

	want := []string{"h:" + live.Handle, "s:" + live.TokenHash.String(), "sx", "us:judy"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := f.keys(t)
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys 10 s after the sessions expired: got %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := f.raw.HLen(t.Context(), f.prefix+"us:judy").Val(); n != 1 {
		t.Errorf("entries in judy's index after the sweep: got %d, want 1", n)
	}
	if n := f.raw.ZCard(t.Context(), f.prefix+"sx").Val(); n != 1 {
		t.Errorf("members of the sweep set after the sweep: got %d, want 1", n)
	}
}
