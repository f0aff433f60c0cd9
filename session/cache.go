package session

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// cacheShards splits the cache so that concurrent requests for different
// sessions rarely meet on a lock. A power of two.
const cacheShards = 64

// chunkSlots is how many slots a shard allocates at a time: 240 slots of
// 136 bytes fill a 32 KiB size class (a power of two, 256, would be a
// page-rounded large object wasting 15%). Slots live in chunks so that
// growing a shard never copies or moves them.
const chunkSlots = 240

// The revocation cache keeps its own compact table instead of
// golang-lru/v2. Measured with runtime.MemStats at 1,000,000 entries, a
// bare simplelru entry keyed by the 32-byte token hash costs 196 bytes
// (its list element plus its share of the Go map), which leaves 4 bytes of
// the 200-byte budget per entry for the session's state; keyed by a 64-bit
// prefix it costs 118, leaving 82 bytes for ~100 bytes of state (the rest
// of the hash, user, handle, times, flags), the handle's string and a
// per-user index. A golang-lru entry also cannot be updated without moving
// it to the front, and it has no per-user index. This table costs 177
// bytes per session at 1,000,000 entries, strings and indexes included
// (BenchmarkCacheEntryBytes; TestCacheEntryBytes bounds it at 200).
//
// Layout of a shard:
//   - slots, in chunks: one per cached token hash, holding the session's
//     state inline (no pointer to a separate *Session);
//   - tokens: an open-addressing table (linear probing, backward-shift
//     deletion, load ≤ 1/2) from the token hash to its slot;
//   - users: the same kind of table from a user's hash to the first of
//     that user's slots in the shard, which are chained through
//     userNext/userPrev. Ending a user's sessions walks only that chain in
//     each shard: O(shards + the user's cached entries), never O(cache).
//
// Eviction is CLOCK (second chance), an LRU approximation: a hit sets the
// slot's reference bit with an atomic store under the read lock (hits never
// take the write lock); a fill into a full shard sweeps the hand past
// referenced slots, clearing their bits, and reuses the first unreferenced
// one.

// slotKind says what a slot holds.
type slotKind uint8

const (
	kindFree      slotKind = iota // on the shard's free list
	kindTombstone                 // a revoked or unknown token
	kindSession                   // a live session (state inline)
	kindGrant                     // a live app grant (state in grant)
)

// Bits of slot.flags.
const (
	flagRef      = 1 << iota // referenced since the CLOCK hand last passed
	flagTouching             // a last-seen write is in flight
	flagBound                // the session is bound to its device (DBSC)
)

// noSlot ends a chain and the free list.
const noSlot = -1

// zeroTime encodes the zero time.Time in a slot's time fields.
const zeroTime = math.MinInt64

// slot is one cached token hash: 136 bytes on 64-bit platforms.
//
// A live session is trusted until validUntil (fill time + RevocationTTL).
// A tombstone records a revoked or unknown token; tokens are random and
// never reissued, so a tombstone stays true until the CLOCK evicts it, and
// a stolen revoked cookie costs no storage read per request.
//
// Fields other than lastSeen, reissuedAt and flags change only under the
// shard's write lock; those three are atomics that the read-locked paths
// update.
type slot struct {
	hash     storage.TokenHash
	userHash uint64 // revocationCache.userHash of the user; 0: none
	handle   string
	// loc is the location of the session's times (all three are returned
	// in it; their monotonic readings are not kept).
	loc                          *time.Location
	grant                        *entry // kindGrant only
	authAt, createdAt, expiresAt int64  // unix ns, or zeroTime
	validUntil                   int64  // unix ns; live entries only
	lastSeen                     atomic.Int64
	reissuedAt                   atomic.Int64 // unix ns of the last re-issue under a newer key
	userNext, userPrev           int32        // this user's chain in the shard; free list
	flags                        atomic.Uint32
	kind                         slotKind
	level                        storage.AuthLevel
}

// cachedSession is a copy of a session slot's state (or of a tombstone),
// taken under the shard's read lock, or built from storage by a fill.
type cachedSession struct {
	kind                         slotKind
	level                        storage.AuthLevel
	userHash                     uint64
	handle                       string
	loc                          *time.Location
	authAt, createdAt, expiresAt int64
	validUntil                   int64
	lastSeen                     int64
	bound                        bool // device-bound (DBSC): needs the device cookie
}

// newCachedSession builds the cached state of st. It reports false when
// st's times do not fit the slot encoding (unix nanoseconds: the years 1678
// to 2261, or zero); such a session is used but not cached.
func newCachedSession(st *storage.Session, userHash uint64, validUntil int64) (cachedSession, bool) {
	c := cachedSession{
		kind:       kindSession,
		level:      st.AuthLevel,
		userHash:   userHash,
		handle:     st.Handle,
		loc:        st.AuthAt.Location(),
		validUntil: validUntil,
	}
	var ok [4]bool
	c.authAt, ok[0] = unixNano(st.AuthAt)
	c.createdAt, ok[1] = unixNano(st.CreatedAt)
	c.expiresAt, ok[2] = unixNano(st.ExpiresAt)
	c.lastSeen, ok[3] = unixNano(st.LastSeenAt)
	return c, ok == [4]bool{true, true, true, true}
}

func unixNano(t time.Time) (int64, bool) {
	if t.IsZero() {
		return zeroTime, true
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return 0, false
	}
	return t.UnixNano(), true
}

func (c *cachedSession) time(ns int64) time.Time {
	if ns == zeroTime {
		return time.Time{}
	}
	if c.loc == nil {
		return time.Unix(0, ns).UTC()
	}
	return time.Unix(0, ns).In(c.loc)
}

// session fills s from the cached state of the token hashed to h.
func (c *cachedSession) session(h storage.TokenHash, userID string, s *Session) {
	*s = Session{
		UserID:    userID,
		Handle:    c.handle,
		AuthLevel: c.level,
		AuthAt:    c.time(c.authAt),
		CreatedAt: c.time(c.createdAt),
		ExpiresAt: c.time(c.expiresAt),
		tokenHash: h,
	}
}

// entry is the cached state of an app grant (kindGrant slots point to it),
// or what apps.go hands to fill: a grant, or a tombstone when grant is nil.
type entry struct {
	grant      *Grant // immutable; set for a live app grant
	userID     string
	validUntil int64 // unix nanoseconds; live entries only

	lastSeen atomic.Int64 // unix ns: touch throttle
	touching atomic.Bool  // a last-used write is in flight
}

// live reports whether e is a grant rather than a tombstone.
func (e *entry) live() bool { return e.grant != nil }

// revocationCache maps token hashes to cached state. Safe for concurrent
// use.
//
// No resurrection (DESIGN.md "Revocation properties"): each shard has a
// generation counter that every invalidation bumps. A fill records the
// generation before it reads storage and is dropped if the generation moved
// meanwhile, so a read that started before a revocation can never put the
// session back as live after it.
type revocationCache struct {
	shards [cacheShards]cacheShard
	seed   maphash.Seed
	// notGrant is what get returns for a session or tombstone slot: no
	// grant.
	notGrant *entry
}

type cacheShard struct {
	mu     sync.RWMutex
	gen    uint64
	chunks [][]slot
	n      int32 // slots handed out (free ones included)
	limit  int32 // capacity
	free   int32 // first free slot, chained through userNext
	hand   int32 // CLOCK hand
	tokens index // token hash → slot
	users  index // user hash → first slot of the user's chain
	// evictions counts the entries the CLOCK dropped to make room.
	// Added to under the write lock; read without it (telemetry).
	evictions atomic.Int64
	// Pad to a multiple of two cache lines so that cores working on
	// neighbouring shards do not invalidate each other's lines (false
	// sharing): mu, gen, chunks, n…hand, tokens and users, evictions.
	_ [128 - (24+8+24+16+2*32+8)%128]byte
}

// index is an open-addressing hash table of slot numbers + 1 (0: empty).
type index struct {
	ids  []int32
	used int
}

func newRevocationCache(size int) *revocationCache {
	per := min(max(size/cacheShards, 1), math.MaxInt32/2)
	c := &revocationCache{seed: maphash.MakeSeed(), notGrant: &entry{}}
	for i := range c.shards {
		c.shards[i].limit = int32(per)
		c.shards[i].free = noSlot
	}
	return c
}

// evictions returns how many entries the CLOCK has dropped to make room
// since c was made. Safe for concurrent use; it takes no lock.
func (c *revocationCache) evictions() int64 {
	var n int64
	for i := range c.shards {
		n += c.shards[i].evictions.Load()
	}
	return n
}

func (c *revocationCache) shard(h storage.TokenHash) *cacheShard {
	return &c.shards[h[0]&(cacheShards-1)]
}

// userHash returns the keyed hash under which userID's entries are
// indexed (0 for no user). A collision between two users costs cache
// misses, never a wrong answer: entries are found by their full token hash.
func (c *revocationCache) userHash(userID string) uint64 {
	if userID == "" {
		return 0
	}
	return max(maphash.String(c.seed, userID), 1)
}

// tokenPos is where the token index probes first for h. The hash is keyed
// so that ground bearer tokens cannot pile up in one probe run.
func (c *revocationCache) tokenPos(h *storage.TokenHash) uint64 {
	return maphash.Comparable(c.seed, binary.LittleEndian.Uint64(h[8:]))
}

func (s *cacheShard) slot(i int32) *slot {
	return &s.chunks[i/chunkSlots][i%chunkSlots]
}

// find returns h's slot number, or noSlot.
func (s *cacheShard) find(c *revocationCache, h *storage.TokenHash) int32 {
	ids := s.tokens.ids
	if len(ids) == 0 {
		return noSlot
	}
	mask := uint64(len(ids) - 1)
	for p := c.tokenPos(h) & mask; ; p = (p + 1) & mask {
		id := ids[p]
		if id == 0 {
			return noSlot
		}
		if s.slot(id-1).hash == *h {
			return id - 1
		}
	}
}

// findUser returns the position in the user index of uh's chain head.
func (s *cacheShard) findUser(uh uint64) (pos uint64, ok bool) {
	ids := s.users.ids
	if len(ids) == 0 {
		return 0, false
	}
	mask := uint64(len(ids) - 1)
	for p := uh & mask; ; p = (p + 1) & mask {
		id := ids[p]
		if id == 0 {
			return 0, false
		}
		if s.slot(id-1).userHash == uh {
			return p, true
		}
	}
}

// insert adds slot i to x; home is the slot's hash in x. The table grows
// (rehashing through home) to keep its load at most 1/2.
func (x *index) insert(i int32, pos uint64, home func(int32) uint64) {
	if 2*(x.used+1) > len(x.ids) {
		old := x.ids
		x.ids = make([]int32, max(16, 2*len(old)))
		for _, id := range old {
			if id != 0 {
				x.place(id, home(id-1))
			}
		}
	}
	x.place(i+1, pos)
	x.used++
}

func (x *index) place(id int32, pos uint64) {
	mask := uint64(len(x.ids) - 1)
	p := pos & mask
	for x.ids[p] != 0 {
		p = (p + 1) & mask
	}
	x.ids[p] = id
}

// remove empties position p, shifting later members of the probe run back
// so that no lookup stops early (no tombstones needed).
func (x *index) remove(p uint64, home func(int32) uint64) {
	mask := uint64(len(x.ids) - 1)
	x.used--
	for {
		x.ids[p] = 0
		q := p
		for {
			q = (q + 1) & mask
			id := x.ids[q]
			if id == 0 {
				return
			}
			// The member at q may move to p unless its home lies
			// cyclically in (p, q].
			h := home(id-1) & mask
			if (p < q && p < h && h <= q) || (p > q && (p < h || h <= q)) {
				continue
			}
			x.ids[p] = id
			p = q
			break
		}
	}
}

// position returns where slot i sits in x, probing from pos.
func (x *index) position(i int32, pos uint64) uint64 {
	mask := uint64(len(x.ids) - 1)
	p := pos & mask
	for x.ids[p] != i+1 {
		p = (p + 1) & mask
	}
	return p
}

func (s *cacheShard) tokenHome(c *revocationCache) func(int32) uint64 {
	return func(i int32) uint64 { return c.tokenPos(&s.slot(i).hash) }
}

func (s *cacheShard) userHome(i int32) uint64 { return s.slot(i).userHash }

// link puts slot i at the head of its user's chain.
func (s *cacheShard) link(i int32) {
	sl := s.slot(i)
	sl.userNext, sl.userPrev = noSlot, noSlot
	if sl.userHash == 0 {
		return
	}
	if p, ok := s.findUser(sl.userHash); ok {
		head := s.users.ids[p] - 1
		sl.userNext = head
		s.slot(head).userPrev = i
		s.users.ids[p] = i + 1
		return
	}
	s.users.insert(i, sl.userHash, s.userHome)
}

// unlink takes slot i out of its user's chain.
func (s *cacheShard) unlink(i int32) {
	sl := s.slot(i)
	if sl.userHash == 0 {
		return
	}
	if sl.userNext != noSlot {
		s.slot(sl.userNext).userPrev = sl.userPrev
	}
	if sl.userPrev != noSlot {
		s.slot(sl.userPrev).userNext = sl.userNext
	} else {
		p := s.users.position(i, sl.userHash)
		if sl.userNext != noSlot {
			s.users.ids[p] = sl.userNext + 1
		} else {
			s.users.remove(p, s.userHome)
		}
	}
	sl.userNext, sl.userPrev = noSlot, noSlot
}

// drop removes slot i from both indexes and puts it on the free list.
func (s *cacheShard) drop(c *revocationCache, i int32) {
	sl := s.slot(i)
	s.tokens.remove(s.tokens.position(i, c.tokenPos(&sl.hash)), s.tokenHome(c))
	s.unlink(i)
	*sl = slot{userNext: s.free, userPrev: noSlot}
	s.free = i
}

// put returns the slot for h, adding one (and evicting if the shard is
// full) when h is not cached, and sets its user. The caller sets the rest.
func (s *cacheShard) put(c *revocationCache, h *storage.TokenHash, uh uint64) *slot {
	if i := s.find(c, h); i != noSlot {
		sl := s.slot(i)
		if sl.userHash != uh {
			s.unlink(i)
			sl.userHash = uh
			s.link(i)
		}
		sl.flags.Store(flagRef | sl.flags.Load()&flagTouching)
		return sl
	}
	i := s.alloc(c)
	sl := s.slot(i)
	sl.hash, sl.userHash = *h, uh
	sl.flags.Store(flagRef)
	s.tokens.insert(i, c.tokenPos(h), s.tokenHome(c))
	s.link(i)
	return sl
}

// alloc returns a free slot number: from the free list, a new slot, or the
// CLOCK victim.
func (s *cacheShard) alloc(c *revocationCache) int32 {
	if s.free == noSlot && s.n < s.limit {
		if s.n/chunkSlots == int32(len(s.chunks)) {
			s.chunks = append(s.chunks, make([]slot, min(chunkSlots, s.limit-s.n)))
		}
		s.n++
		return s.n - 1
	}
	for s.free == noSlot {
		i := s.hand
		if s.hand++; s.hand == s.n {
			s.hand = 0
		}
		sl := s.slot(i)
		if sl.kind == kindFree {
			continue
		}
		if f := sl.flags.Load(); f&flagRef != 0 {
			sl.flags.Store(f &^ flagRef)
			continue
		}
		s.evictions.Add(1)
		s.drop(c, i)
	}
	i := s.free
	s.free = s.slot(i).userNext
	return i
}

// reference marks sl as recently used, without a write when it already is.
func reference(sl *slot) {
	if sl.flags.Load()&flagRef == 0 {
		sl.flags.Or(flagRef)
	}
}

// getSession copies h's session or tombstone into v and returns whether
// there was one, and the shard generation to pass to fillSession. An app
// grant's slot reads as a tombstone (not a session).
func (c *revocationCache) getSession(h storage.TokenHash, v *cachedSession) (bool, uint64) {
	s := c.shard(h)
	s.mu.RLock()
	gen := s.gen
	i := s.find(c, &h)
	if i == noSlot {
		s.mu.RUnlock()
		return false, gen
	}
	sl := s.slot(i)
	reference(sl)
	if sl.kind != kindSession {
		*v = cachedSession{kind: kindTombstone, userHash: sl.userHash}
	} else {
		flags := sl.flags.Load()
		*v = cachedSession{
			kind:       kindSession,
			level:      sl.level,
			userHash:   sl.userHash,
			handle:     sl.handle,
			loc:        sl.loc,
			authAt:     sl.authAt,
			createdAt:  sl.createdAt,
			expiresAt:  sl.expiresAt,
			validUntil: sl.validUntil,
			lastSeen:   sl.lastSeen.Load(),
			bound:      flags&flagBound != 0,
		}
	}
	s.mu.RUnlock()
	return true, gen
}

// fillSession stores v (a session or a tombstone) for h unless an
// invalidation happened since gen was read. It reports whether v was
// stored.
func (c *revocationCache) fillSession(h storage.TokenHash, v *cachedSession, gen uint64) bool {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return false
	}
	sl := s.put(c, &h, v.userHash)
	sl.kind, sl.level, sl.handle, sl.loc, sl.grant = v.kind, v.level, v.handle, v.loc, nil
	sl.authAt, sl.createdAt, sl.expiresAt, sl.validUntil = v.authAt, v.createdAt, v.expiresAt, v.validUntil
	sl.lastSeen.Store(v.lastSeen)
	sl.reissuedAt.Store(0)
	if v.bound {
		sl.flags.Or(flagBound)
	}
	return true
}

// get returns the app grant entry for h (nil if h is not cached; an entry
// without a grant for a tombstone or a session) and the shard generation
// to pass to fill.
func (c *revocationCache) get(h storage.TokenHash, _ int64) (*entry, uint64) {
	s := c.shard(h)
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := s.find(c, &h)
	if i == noSlot {
		return nil, s.gen
	}
	sl := s.slot(i)
	reference(sl)
	if sl.kind == kindGrant {
		return sl.grant, s.gen
	}
	return c.notGrant, s.gen
}

// fill stores e (an app grant, or a tombstone if it has none) for h unless
// an invalidation happened since gen was read. It reports whether e was
// stored.
func (c *revocationCache) fill(h storage.TokenHash, e *entry, gen uint64) bool {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return false
	}
	c.store(s, h, e)
	return true
}

// store puts e in s for h; s is write-locked.
func (c *revocationCache) store(s *cacheShard, h storage.TokenHash, e *entry) {
	sl := s.put(c, &h, c.userHash(e.userID))
	*sl = slot{hash: sl.hash, userHash: sl.userHash, userNext: sl.userNext, userPrev: sl.userPrev, kind: kindTombstone}
	sl.flags.Store(flagRef)
	if e.live() {
		sl.kind, sl.grant = kindGrant, e
	}
}

// tombstone records h as revoked.
func (c *revocationCache) tombstone(h storage.TokenHash, userID string) {
	s := c.shard(h)
	s.mu.Lock()
	s.gen++
	c.store(s, h, &entry{userID: userID})
	s.mu.Unlock()
}

// forget drops what is known about h.
func (c *revocationCache) forget(h storage.TokenHash) {
	s := c.shard(h)
	s.mu.Lock()
	s.gen++
	if i := s.find(c, &h); i != noSlot {
		s.drop(c, i)
	}
	s.mu.Unlock()
}

// forgetUser drops every live entry of userID except the one for keep (zero:
// none kept), so that the next request for each re-reads storage.
// Tombstones stay. In each shard it walks only the user's chain: the cost
// is O(shards + the user's cached entries) and allocates nothing.
func (c *revocationCache) forgetUser(userID string, keep storage.TokenHash) {
	uh := c.userHash(userID)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		if uh != 0 {
			if p, ok := s.findUser(uh); ok {
				for j := s.users.ids[p] - 1; j != noSlot; {
					sl := s.slot(j)
					next := sl.userNext
					if sl.kind != kindTombstone && sl.hash != keep {
						s.drop(c, j)
					}
					j = next
				}
			}
		}
		s.mu.Unlock()
	}
}

// purge drops everything (the notifier may have missed revocations). It
// keeps the shards' memory for reuse: it allocates nothing.
func (c *revocationCache) purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		for _, ch := range s.chunks {
			clear(ch)
		}
		clear(s.tokens.ids)
		clear(s.users.ids)
		s.tokens.used, s.users.used = 0, 0
		s.n, s.hand, s.free = 0, 0, noSlot
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

// startTouch claims the last-seen write for h's session. It reports false
// when another request's write is in flight; true when this request should
// write (also when h is no longer cached: then nothing is claimed).
func (c *revocationCache) startTouch(h storage.TokenHash) bool {
	s := c.shard(h)
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := s.find(c, &h)
	if i == noSlot {
		return true
	}
	sl := s.slot(i)
	for {
		f := sl.flags.Load()
		if f&flagTouching != 0 {
			return false
		}
		if sl.flags.CompareAndSwap(f, f|flagTouching) {
			return true
		}
	}
}

// endTouch releases startTouch's claim, recording lastSeen (unix ns) when
// the write succeeded (non-zero).
func (c *revocationCache) endTouch(h storage.TokenHash, lastSeen int64) {
	s := c.shard(h)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i := s.find(c, &h); i != noSlot {
		sl := s.slot(i)
		if lastSeen != 0 {
			sl.lastSeen.Store(lastSeen)
		}
		sl.flags.And(^uint32(flagTouching))
	}
}

// claimReissue reports whether h's cookie should be re-issued now (unix
// ns): at most once per interval per cached session.
func (c *revocationCache) claimReissue(h storage.TokenHash, now, interval int64) bool {
	s := c.shard(h)
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := s.find(c, &h)
	if i == noSlot {
		return false
	}
	sl := s.slot(i)
	old := sl.reissuedAt.Load()
	return sl.kind == kindSession && now-old >= interval && sl.reissuedAt.CompareAndSwap(old, now)
}
