package session

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/sessionguard/sessionguard/storage"
)

// testSession is a storage.Session as a store returns it: fresh strings.
func testSession(user string, i int) *storage.Session {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).Add(time.Duration(i) * time.Millisecond)
	return &storage.Session{
		Handle:     fmt.Sprintf("handle-%016d", i),
		UserID:     user,
		CreatedAt:  at,
		ExpiresAt:  at.Add(DefaultAbsoluteTimeout),
		AuthLevel:  storage.AuthPassword,
		AuthAt:     at,
		LastSeenAt: at,
	}
}

// fillLive caches a live session of user for h, as a fill that starts now.
func fillLive(t testing.TB, c *revocationCache, h storage.TokenHash, user string) bool {
	t.Helper()
	var v cachedSession
	_, gen := c.getSession(h, &v)
	v, ok := newCachedSession(testSession(user, 0), c.userHash(user), 1<<62)
	if !ok {
		t.Fatal("test session not cacheable")
	}
	return c.fillSession(h, &v, gen)
}

// cachedKind returns what the cache holds for h (kindFree: nothing).
func cachedKind(c *revocationCache, h storage.TokenHash) slotKind {
	var v cachedSession
	if ok, _ := c.getSession(h, &v); !ok {
		return kindFree
	}
	return v.kind
}

func hashOf(parts ...any) storage.TokenHash { return storage.HashToken(fmt.Append(nil, parts...)) }

// checkInvariants fails t unless every shard's indexes, user chains and
// free list agree with its slots.
func checkInvariants(t testing.TB, c *revocationCache) {
	t.Helper()
	for si := range c.shards {
		s := &c.shards[si]
		s.mu.Lock()
		users := map[uint64]int{}
		cached := 0
		for i := range s.n {
			sl := s.slot(i)
			if sl.kind == kindFree {
				continue
			}
			cached++
			if got := s.find(c, &sl.hash); got != i {
				t.Fatalf("shard %d: slot %d is found at %d", si, i, got)
			}
			if sl.userHash != 0 {
				users[sl.userHash]++
			}
		}
		free := 0
		for i := s.free; i != noSlot; i = s.slot(i).userNext {
			if s.slot(i).kind != kindFree {
				t.Fatalf("shard %d: slot %d on the free list is in use", si, i)
			}
			free++
		}
		if cached+free != int(s.n) || s.n > s.limit {
			t.Fatalf("shard %d: %d cached + %d free, want %d (limit %d)", si, cached, free, s.n, s.limit)
		}
		if s.tokens.used != cached || s.users.used != len(users) {
			t.Fatalf("shard %d: indexes hold %d tokens and %d users, want %d and %d", si, s.tokens.used, s.users.used, cached, len(users))
		}
		for uh, n := range users {
			p, ok := s.findUser(uh)
			if !ok {
				t.Fatalf("shard %d: user %x has no chain", si, uh)
			}
			prev, got := int32(noSlot), 0
			for i := s.users.ids[p] - 1; i != noSlot; i = s.slot(i).userNext {
				if sl := s.slot(i); sl.userHash != uh || sl.userPrev != prev {
					t.Fatalf("shard %d: user %x's chain is broken at slot %d", si, uh, i)
				}
				prev = i
				got++
			}
			if got != n {
				t.Fatalf("shard %d: user %x's chain has %d slots, want %d", si, uh, got, n)
			}
		}
		s.mu.Unlock()
	}
}

func TestCacheFillIsDroppedAfterAnInvalidation(t *testing.T) {
	t.Parallel()
	h := hashOf("a")
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
		t.Run(tt.name+" drops a session fill", func(t *testing.T) {
			c := newRevocationCache(1024)
			var v cachedSession
			_, gen := c.getSession(h, &v) // a fill starts: reads the generation, then storage
			tt.invalidate(c)              // a revocation lands meanwhile
			v, _ = newCachedSession(testSession("alice", 0), c.userHash("alice"), 1<<62)
			if c.fillSession(h, &v, gen) {
				t.Fatal("a fill that started before the invalidation was stored")
			}
			if got := cachedKind(c, h); got == kindSession {
				t.Fatal("the session is live in the cache after the invalidation")
			}
			if !fillLive(t, c, h, "alice") { // a fill that starts afterwards is stored
				t.Fatal("a fresh fill was dropped")
			}
			checkInvariants(t, c)
		})
		t.Run(tt.name+" drops a grant fill", func(t *testing.T) {
			c := newRevocationCache(1024)
			_, gen := c.get(h, 0)
			tt.invalidate(c)
			if c.fill(h, &entry{grant: &Grant{}, userID: "alice"}, gen) {
				t.Fatal("a fill that started before the invalidation was stored")
			}
			if e, _ := c.get(h, 0); e != nil && e.live() {
				t.Fatal("the grant is live in the cache after the invalidation")
			}
			_, gen = c.get(h, 0)
			if !c.fill(h, &entry{grant: &Grant{}, userID: "alice"}, gen) {
				t.Fatal("a fresh fill was dropped")
			}
		})
	}
}

func TestCacheForgetUserKeepsOthers(t *testing.T) {
	t.Parallel()
	c := newRevocationCache(1024 * cacheShards)
	var alice, bob []storage.TokenHash
	for i := range 300 {
		ha, hb := hashOf("a", i), hashOf("b", i)
		alice, bob = append(alice, ha), append(bob, hb)
		fillLive(t, c, ha, "alice")
		fillLive(t, c, hb, "bob")
	}
	var gen uint64
	_, gen = c.get(alice[2], 0)
	c.fill(alice[2], &entry{grant: &Grant{}, userID: "alice"}, gen)
	c.tombstone(alice[1], "alice")
	c.forgetUser("alice", alice[0])
	checkInvariants(t, c)
	if got := cachedKind(c, alice[0]); got != kindSession {
		t.Errorf("the kept session: got kind %d, want a session", got)
	}
	if got := cachedKind(c, alice[1]); got != kindTombstone {
		t.Errorf("a tombstone: got kind %d after forgetUser, want it kept", got)
	}
	for _, h := range alice[2:] {
		if got := cachedKind(c, h); got != kindFree {
			t.Fatalf("one of alice's entries is still cached (kind %d)", got)
		}
	}
	for _, h := range bob {
		if got := cachedKind(c, h); got != kindSession {
			t.Fatal("one of bob's sessions was forgotten")
		}
	}
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	c := newRevocationCache(cacheShards * 4)
	for i := range 10_000 {
		fillLive(t, c, hashOf(i), fmt.Sprint("u", i%7))
	}
	checkInvariants(t, c)
	n := 0
	for i := range c.shards {
		n += c.shards[i].tokens.used
	}
	if n > cacheShards*4 {
		t.Errorf("cache holds %d entries, want at most %d", n, cacheShards*4)
	}
}

// TestCacheKeepsRecentlyUsedEntries checks the CLOCK: an entry read since
// the hand last passed survives the next eviction; an unread one does not.
func TestCacheKeepsRecentlyUsedEntries(t *testing.T) {
	t.Parallel()
	c := newRevocationCache(cacheShards * 4)
	var in []storage.TokenHash
	for i := 0; len(in) < 4; i++ { // four entries of shard 0: it is full
		if h := hashOf(i); h[0]%cacheShards == 0 {
			in = append(in, h)
			fillLive(t, c, h, "u")
		}
	}
	var hot storage.TokenHash
	for i := 0; ; i++ {
		if h := hashOf("new", i); h[0]%cacheShards == 0 {
			fillLive(t, c, h, "u") // sweeps all reference bits, evicts in[0]
			break
		}
	}
	hot = in[2]
	cachedKind(c, hot) // a hit
	for i := 0; ; i++ {
		if h := hashOf("newer", i); h[0]%cacheShards == 0 {
			fillLive(t, c, h, "u") // evicts in[1], skips the hot one
			break
		}
	}
	if got := cachedKind(c, hot); got != kindSession {
		t.Error("the recently read entry was evicted")
	}
	if got := cachedKind(c, in[1]); got != kindFree {
		t.Error("an entry not read since the hand passed survived")
	}
	checkInvariants(t, c)
}

// TestCacheMatchesAModel runs random operations against a map and checks
// every answer and the structure's invariants, with and without
// evictions.
func TestCacheMatchesAModel(t *testing.T) {
	t.Parallel()
	for _, size := range []int{cacheShards * 2, cacheShards * 512} {
		t.Run(fmt.Sprint("a cache of ", size, " entries agrees with the model"), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(size)))
			c := newRevocationCache(size)
			model := map[storage.TokenHash]slotKind{}
			users := map[storage.TokenHash]string{}
			const tokens = 4000
			evicting := size < tokens
			for op := range 40_000 {
				i := rng.IntN(tokens)
				h, user := hashOf(i), fmt.Sprint("u", i%37)
				switch r := rng.IntN(100); {
				case r < 50:
					fillLive(t, c, h, user)
					model[h], users[h] = kindSession, user
				case r < 60:
					c.tombstone(h, user)
					model[h], users[h] = kindTombstone, user
				case r < 70:
					c.forget(h)
					delete(model, h)
				case r < 72:
					keep := hashOf(rng.IntN(tokens))
					c.forgetUser(user, keep)
					for k, u := range users {
						if u == user && k != keep && model[k] == kindSession {
							delete(model, k)
						}
					}
				case r < 73:
					c.purge()
					clear(model)
				default:
					got := cachedKind(c, h)
					want := model[h]
					if got != want && !(evicting && got == kindFree) {
						t.Fatalf("op %d: token %d is cached as kind %d, want %d", op, i, got, want)
					}
					if got == kindFree {
						delete(model, h)
					}
				}
				if op%5000 == 0 {
					checkInvariants(t, c)
				}
			}
			checkInvariants(t, c)
		})
	}
}

func TestCacheReturnsTheSessionItCached(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	st := testSession("alice", 7)
	st.AuthAt = st.AuthAt.In(berlin)
	st.AuthLevel = storage.AuthSecondFactor
	c := newRevocationCache(1024)
	h := hashOf("t")
	v, ok := newCachedSession(st, c.userHash("alice"), 1<<62)
	if !ok || !c.fillSession(h, &v, 0) {
		t.Fatal("the session was not cached")
	}
	var got cachedSession
	c.getSession(h, &got)
	var s Session
	got.session(h, "alice", &s)
	want := Session{UserID: "alice", Handle: st.Handle, AuthLevel: st.AuthLevel, AuthAt: st.AuthAt,
		CreatedAt: st.CreatedAt.In(berlin), ExpiresAt: st.ExpiresAt.In(berlin), tokenHash: h}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	st.ExpiresAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := newCachedSession(st, 1, 0); ok {
		t.Error("a session expiring in the year 9999 is cacheable; its expiry does not fit in unix nanoseconds")
	}
}

// TestCacheForgetUserCostsTheUsersEntries checks that ending a user's
// sessions allocates nothing and does not depend on the cache's size: it
// must not walk other users' entries.
func TestCacheForgetUserCostsTheUsersEntries(t *testing.T) {
	const n = 100_000
	c := newRevocationCache(n)
	for i := range n - 10 {
		fillLive(t, c, hashOf(i), fmt.Sprint("user", i))
	}
	mine := make([]storage.TokenHash, 10)
	for i := range mine {
		mine[i] = hashOf("mine", i)
	}
	refill := func() {
		for _, h := range mine {
			fillLive(t, c, h, "alice")
		}
	}
	refill()
	allocs := testing.AllocsPerRun(20, func() { c.forgetUser("alice", mine[0]) })
	if allocs != 0 {
		t.Errorf("forgetUser allocates %v times, want 0", allocs)
	}
	refill()
	walked := 0
	for i := range c.shards {
		s := &c.shards[i]
		if p, ok := s.findUser(c.userHash("alice")); ok {
			for j := s.users.ids[p] - 1; j != noSlot; j = s.slot(j).userNext {
				walked++
			}
		}
	}
	if walked != len(mine) {
		t.Errorf("alice's chains hold %d entries, want %d", walked, len(mine))
	}
	c.forgetUser("alice", mine[0])
	for _, h := range mine[1:] {
		if cachedKind(c, h) != kindFree {
			t.Fatal("one of alice's other sessions is still cached")
		}
	}
	checkInvariants(t, c)
}

// TestCachePurgeAllocatesNothing: dropping everything (after a lost
// notifier connection) reuses the cache's memory.
func TestCachePurgeAllocatesNothing(t *testing.T) {
	c := newRevocationCache(cacheShards * 64)
	fill := func() {
		for i := range cacheShards * 64 {
			fillLive(t, c, hashOf(i), fmt.Sprint("u", i%10))
		}
	}
	fill()
	if allocs := testing.AllocsPerRun(5, c.purge); allocs != 0 {
		t.Errorf("purge allocates %v times, want 0", allocs)
	}
	for i := range cacheShards * 64 {
		if cachedKind(c, hashOf(i)) != kindFree {
			t.Fatal("an entry survived the purge")
		}
	}
	fill()
	checkInvariants(t, c)
}

// TestCacheForgetUserRacingFills races the per-user index: fills for a
// user (and for others, evicting each other in a small cache) run while
// the user's sessions are forgotten. A fill whose generation was read
// before forgetUser was called must never be live afterwards.
func TestCacheForgetUserRacingFills(t *testing.T) {
	t.Parallel()
	c := newRevocationCache(cacheShards * 8)
	var noise sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		noise.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				fillLive(t, c, hashOf("noise", w, i%1000), fmt.Sprint("n", i%13))
				if i%97 == 0 {
					c.forgetUser(fmt.Sprint("n", i%13), storage.TokenHash{})
				}
			}
		})
	}
	rounds := 2000
	if testing.Short() {
		rounds = 200
	}
	for round := range rounds {
		hs := []storage.TokenHash{hashOf("alice", round, 0), hashOf("alice", round, 1), hashOf("alice", round, 2)}
		var fills sync.WaitGroup
		started := make(chan struct{}, len(hs))
		for _, h := range hs {
			fills.Go(func() {
				var v cachedSession
				_, gen := c.getSession(h, &v) // the fill reads storage: session live
				started <- struct{}{}
				v, _ = newCachedSession(testSession("alice", round), c.userHash("alice"), 1<<62)
				c.fillSession(h, &v, gen) // races forgetUser below
			})
		}
		for range hs {
			<-started
		}
		c.forgetUser("alice", storage.TokenHash{}) // the revocation
		fills.Wait()
		for _, h := range hs {
			if cachedKind(c, h) == kindSession {
				t.Fatalf("round %d: a fill that began before forgetUser left the session live", round)
			}
		}
	}
	close(stop)
	noise.Wait()
	checkInvariants(t, c)
}

func TestCacheShardsDoNotShareCacheLines(t *testing.T) {
	t.Parallel()
	if got := unsafe.Sizeof(cacheShard{}); got%128 != 0 {
		t.Errorf("cacheShard is %d bytes, want a multiple of 128 (two cache lines)", got)
	}
}

func TestCacheChunksFillTheirSizeClass(t *testing.T) {
	t.Parallel()
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("slot sizes are tuned for 64-bit platforms")
	}
	// 32 KiB is the largest small-object size class; a larger chunk
	// would be rounded up to whole pages.
	if got := unsafe.Sizeof(slot{}) * chunkSlots; got > 32<<10 || got < 31<<10 {
		t.Errorf("a chunk of %d slots is %d bytes, want just under 32 KiB", chunkSlots, got)
	}
}

// cacheEntryBytes fills a cache of n entries with sessions of distinct
// users (one each: the per-user index costs the most) and returns the heap
// growth per entry, strings held by the cache included.
func cacheEntryBytes(n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newRevocationCache(n)
	for i := range n {
		st := testSession(fmt.Sprint("user-", i), i)
		v, _ := newCachedSession(st, c.userHash(st.UserID), 1<<62)
		c.fillSession(hashOf(i), &v, 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestCacheEntryBytes bounds what one cached session costs: ≤ 200 bytes.
// BenchmarkCacheEntryBytes reports the figure at 1,000,000 entries.
func TestCacheEntryBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 200,000 entries")
	}
	got := cacheEntryBytes(200_000)
	t.Logf("a cached session costs %.0f bytes", got)
	if got > 200 {
		t.Errorf("a cached session costs %.0f bytes, want ≤ 200", got)
	}
}
