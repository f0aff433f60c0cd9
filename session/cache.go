package session

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/sessionguard/sessionguard/storage"
)

// cacheShards splits the LRU so that concurrent requests for different
// sessions rarely meet on a lock. A power of two.
const cacheShards = 64

// promoteEvery bounds how often a hit moves its entry to the front of the
// LRU. Moving needs the shard's write lock; between moves, hits share a
// read lock, so a hot session does not serialise its own requests.
const promoteEvery = int64(time.Second)

// entry is the cached server-side state of one token hash.
//
// A live entry (a session or an app grant) is trusted until validUntil
// (fill time + RevocationTTL). A tombstone (neither) records a revoked or
// unknown token; tokens are random and never reissued, so a tombstone stays
// true until the LRU evicts it, and a stolen revoked cookie costs no storage
// read per request.
type entry struct {
	sess       *Session // immutable; set for a live session
	grant      *Grant   // immutable; set for a live app grant
	userID     string
	validUntil int64 // unix nanoseconds; live entries only

	lastSeen   atomic.Int64 // unix ns: idle timeout and touch throttle
	touching   atomic.Bool  // a last-seen write is in flight
	promotedAt atomic.Int64 // unix ns of the last move to the LRU front
	reissuedAt atomic.Int64 // unix ns of the last re-issue under a newer key
}

// live reports whether e is a session or grant rather than a tombstone.
func (e *entry) live() bool { return e.sess != nil || e.grant != nil }

// revocationCache maps token hashes to entries. Safe for concurrent use.
//
// No resurrection (DESIGN.md "Revocation properties"): each shard has a
// generation counter that every invalidation bumps. A fill records the
// generation before it reads storage and is dropped if the generation moved
// meanwhile, so a read that started before a revocation can never put the
// session back as live after it.
type revocationCache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu  sync.RWMutex
	lru *simplelru.LRU[storage.TokenHash, *entry]
	gen uint64
	// Pad to two cache lines so that cores working on neighbouring
	// shards do not invalidate each other's lines (false sharing).
	_ [128 - 24 - 8 - 8]byte
}

func newRevocationCache(size int) *revocationCache {
	per := max(size/cacheShards, 1)
	c := &revocationCache{}
	for i := range c.shards {
		// NewLRU fails only for a size <= 0, excluded above.
		c.shards[i].lru, _ = simplelru.NewLRU[storage.TokenHash, *entry](per, nil)
	}
	return c
}

func (c *revocationCache) shard(h storage.TokenHash) *cacheShard {
	return &c.shards[h[0]&(cacheShards-1)]
}

// get returns the entry for h (nil if none) and the shard generation to
// pass to fill.
func (c *revocationCache) get(h storage.TokenHash, now int64) (*entry, uint64) {
	s := c.shard(h)
	s.mu.RLock()
	e, ok := s.lru.Peek(h)
	gen := s.gen
	s.mu.RUnlock()
	if !ok {
		return nil, gen
	}
	if now-e.promotedAt.Load() > promoteEvery {
		e.promotedAt.Store(now)
		s.mu.Lock()
		s.lru.Get(h)
		s.mu.Unlock()
	}
	return e, gen
}

// fill stores e for h unless an invalidation happened since gen was read.
// It reports whether e was stored.
func (c *revocationCache) fill(h storage.TokenHash, e *entry, gen uint64) bool {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return false
	}
	s.lru.Add(h, e)
	return true
}

// tombstone records h as revoked.
func (c *revocationCache) tombstone(h storage.TokenHash, userID string) {
	s := c.shard(h)
	s.mu.Lock()
	s.gen++
	s.lru.Add(h, &entry{userID: userID})
	s.mu.Unlock()
}

// forget drops what is known about h.
func (c *revocationCache) forget(h storage.TokenHash) {
	s := c.shard(h)
	s.mu.Lock()
	s.gen++
	s.lru.Remove(h)
	s.mu.Unlock()
}

// forgetUser drops every live entry of userID except the one for keep (zero:
// none kept), so that the next request for each re-reads storage.
// Tombstones stay. It walks every shard: revoking all of a user's sessions
// is rare and the walk is bounded by the cache size.
func (c *revocationCache) forgetUser(userID string, keep storage.TokenHash) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		for _, h := range s.lru.Keys() {
			if h == keep {
				continue
			}
			if e, ok := s.lru.Peek(h); ok && e.live() && e.userID == userID {
				s.lru.Remove(h)
			}
		}
		s.mu.Unlock()
	}
}

// purge drops everything (the notifier may have missed revocations).
func (c *revocationCache) purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		s.lru.Purge()
		s.mu.Unlock()
	}
}

// apply handles a notice from the store's notifier.
func (c *revocationCache) apply(r storage.Revocation) {
	switch {
	case r.Reset:
		c.purge()
	case !r.TokenHash.IsZero():
		c.forget(r.TokenHash)
	default:
		c.forgetUser(r.UserID, storage.TokenHash{})
	}
}
