package session

import (
	"testing"
	"unsafe"

	"github.com/sessionguard/sessionguard/storage"
)

func liveEntry(user string) *entry {
	return &entry{sess: &Session{UserID: user}, userID: user, validUntil: 1 << 62}
}

func TestCacheFillIsDroppedAfterAnInvalidation(t *testing.T) {
	t.Parallel()
	h := storage.HashToken([]byte("a"))
	tests := []struct {
		name       string
		invalidate func(c *revocationCache)
	}{
		{"a tombstone", func(c *revocationCache) { c.tombstone(h, "alice") }},
		{"forgetting the hash", func(c *revocationCache) { c.forget(h) }},
		{"forgetting the user", func(c *revocationCache) { c.forgetUser("alice", storage.TokenHash{}) }},
		{"a purge", func(c *revocationCache) { c.purge() }},
		{"a notice", func(c *revocationCache) { c.apply(storage.Revocation{UserID: "alice"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newRevocationCache(1024)
			_, gen := c.get(h, 0) // a fill starts: reads the generation, then storage
			tt.invalidate(c)      // a revocation lands meanwhile
			if c.fill(h, liveEntry("alice"), gen) {
				t.Fatal("a fill that started before the invalidation was stored")
			}
			if e, _ := c.get(h, 0); e != nil && e.live() {
				t.Fatal("the session is live in the cache after the invalidation")
			}
			_, gen = c.get(h, 0) // a fill that starts afterwards is stored
			if !c.fill(h, liveEntry("alice"), gen) {
				t.Fatal("a fresh fill was dropped")
			}
		})
	}
}

func TestCacheForgetUserKeepsOthers(t *testing.T) {
	t.Parallel()
	c := newRevocationCache(1024)
	var alice, bob []storage.TokenHash
	for i := range 50 {
		ha, hb := storage.HashToken([]byte{'a', byte(i)}), storage.HashToken([]byte{'b', byte(i)})
		alice, bob = append(alice, ha), append(bob, hb)
		_, g := c.get(ha, 0)
		c.fill(ha, liveEntry("alice"), g)
		_, g = c.get(hb, 0)
		c.fill(hb, liveEntry("bob"), g)
	}
	c.tombstone(alice[1], "alice")
	c.forgetUser("alice", alice[0])
	if e, _ := c.get(alice[0], 0); e == nil || !e.live() {
		t.Error("the kept session was forgotten")
	}
	if e, _ := c.get(alice[1], 0); e == nil || e.live() {
		t.Error("a tombstone was dropped by forgetUser")
	}
	for _, h := range alice[2:] {
		if e, _ := c.get(h, 0); e != nil {
			t.Fatal("one of alice's sessions is still cached")
		}
	}
	for _, h := range bob {
		if e, _ := c.get(h, 0); e == nil || !e.live() {
			t.Fatal("one of bob's sessions was forgotten")
		}
	}
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	c := newRevocationCache(cacheShards * 4)
	for i := range 10_000 {
		h := storage.HashToken([]byte{byte(i), byte(i >> 8)})
		_, g := c.get(h, 0)
		c.fill(h, liveEntry("u"), g)
	}
	n := 0
	for i := range c.shards {
		n += c.shards[i].lru.Len()
	}
	if n > cacheShards*4 {
		t.Errorf("cache holds %d entries, want at most %d", n, cacheShards*4)
	}
}

func TestCacheShardsDoNotShareCacheLines(t *testing.T) {
	t.Parallel()
	if got := unsafe.Sizeof(cacheShard{}); got != 128 {
		t.Errorf("cacheShard is %d bytes, want 128 (two cache lines)", got)
	}
}
