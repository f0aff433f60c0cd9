package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// newSession returns a session of userID created at base and expiring
// after life.
func newSession(userID string, base time.Time, life time.Duration) *storage.Session {
	var h storage.TokenHash
	_, _ = rand.Read(h[:])
	return &storage.Session{
		TokenHash: h, Handle: rand.Text(), UserID: userID,
		CreatedAt: base, ExpiresAt: base.Add(life), AuthLevel: storage.AuthPassword, AuthAt: base,
		LastSeenAt: base, LastSeenIP: "192.0.2.1", UserAgent: "test",
	}
}

func mustCreate(t testing.TB, s *redis.Store, x *storage.Session) {
	t.Helper()
	if err := s.CreateSession(context.Background(), x); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
}

// keys returns every key under the fixture's prefix, without it, sorted.
func (f *fixture) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	iter := f.raw.Scan(t.Context(), 0, f.prefix+"*", 1000).Iterator()
	for iter.Next(t.Context()) {
		out = append(out, iter.Val()[len(f.prefix):])
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	slices.Sort(out)
	return out
}

func TestEvictedSessionIsGone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	ctx := t.Context()
	now := time.Now()
	evicted, kept := newSession("alice", now, time.Hour), newSession("alice", now, time.Hour)
	mustCreate(t, f.store, evicted)
	mustCreate(t, f.store, kept)

	// Redis evicts the session key behind the store's back.
	if err := f.raw.Del(ctx, f.prefix+"s:"+evicted.TokenHash.String()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetSession(ctx, evicted.TokenHash); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession of the evicted session: got %v, want ErrNotFound", err)
	}
	if err := f.store.TouchSession(ctx, evicted.TokenHash, storage.Activity{At: now}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("TouchSession of the evicted session: got %v, want ErrNotFound", err)
	}
	list, err := f.store.ListSessions(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Handle != kept.Handle {
		t.Errorf("ListSessions: got %d sessions, want only the kept one", len(list))
	}
	// The listing pruned the stale index entry and sweep entry.
	if n := f.raw.HLen(ctx, f.prefix+"us:alice").Val(); n != 1 {
		t.Errorf("index entries after the listing: got %d, want 1", n)
	}
	if n := f.raw.ZCard(ctx, f.prefix+"sx").Val(); n != 1 {
		t.Errorf("sweep entries after the listing: got %d, want 1", n)
	}
	if _, err := f.store.RevokeSession(ctx, "alice", evicted.Handle); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RevokeSession of the evicted session: got %v, want ErrNotFound", err)
	}
	if n, err := f.store.RevokeUserSessions(ctx, "alice", storage.TokenHash{}); err != nil || n != 1 {
		t.Errorf("RevokeUserSessions: got %d, %v; want 1 (the live session only)", n, err)
	}
}

func TestEvictedIndexLogsOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	ctx := t.Context()
	x := newSession("bob", time.Now(), time.Hour)
	mustCreate(t, f.store, x)

	// Without its index entry the session could not be revoked by
	// RevokeUserSessions: it must not be live either.
	if err := f.raw.Del(ctx, f.prefix+"us:bob").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetSession(ctx, x.TokenHash); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession: got %v, want ErrNotFound", err)
	}
	if n := f.raw.Exists(ctx, f.prefix+"s:"+x.TokenHash.String()).Val(); n != 0 {
		t.Errorf("the orphaned session key still exists")
	}
	next := newSession("bob", time.Now(), time.Hour)
	if err := f.store.RotateSession(ctx, x.TokenHash, next); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RotateSession of the orphan: got %v, want ErrNotFound", err)
	}
}

func TestSessionKeysExpireAtExpiresAt(t *testing.T) {
	t.Parallel()
	// A clock far from the wall clock proves the TTL is counted from
	// Options.Now.
	clock := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	f := newFixture(t, redis.Options{Now: func() time.Time { return clock }})
	ctx := t.Context()
	x := newSession("carol", clock, 90*time.Minute)
	mustCreate(t, f.store, x)

	checkTTL := func(what, key string, want time.Duration) {
		t.Helper()
		got, err := f.raw.PTTL(ctx, f.prefix+key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got > want || got < want-5*time.Second {
			t.Errorf("PTTL of %s: got %v, want about %v", what, got, want)
		}
	}
	checkTTL("the session key", "s:"+x.TokenHash.String(), 90*time.Minute)
	checkTTL("the handle key", "h:"+x.Handle, 90*time.Minute)

	if err := f.store.TouchSession(ctx, x.TokenHash, storage.Activity{At: clock.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	checkTTL("the touched session key", "s:"+x.TokenHash.String(), 90*time.Minute)

	next := *x
	_, _ = rand.Read(next.TokenHash[:])
	next.ExpiresAt = clock.Add(time.Hour)
	if err := f.store.RotateSession(ctx, x.TokenHash, &next); err != nil {
		t.Fatal(err)
	}
	checkTTL("the rotated session key", "s:"+next.TokenHash.String(), time.Hour)
	checkTTL("the rotated handle key", "h:"+x.Handle, time.Hour)
	if n := f.raw.Exists(ctx, f.prefix+"s:"+x.TokenHash.String()).Val(); n != 0 {
		t.Error("the old session key survived the rotation")
	}
}

func TestTimesRoundTripToTheNanosecond(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	base := time.Now().Add(123456789 * time.Nanosecond)
	x := newSession("dave", base, time.Hour)
	x.AuthAt = base.Add(-time.Nanosecond)
	x.LastSeenAt = time.Time{}
	mustCreate(t, f.store, x)
	got, err := f.store.GetSession(t.Context(), x.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, x.CreatedAt},
		{"ExpiresAt", got.ExpiresAt, x.ExpiresAt},
		{"AuthAt", got.AuthAt, x.AuthAt},
		{"LastSeenAt", got.LastSeenAt, x.LastSeenAt},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}

	far := newSession("dave", base, time.Hour)
	far.ExpiresAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := f.store.CreateSession(t.Context(), far); err == nil {
		t.Error("CreateSession with a time unix nanoseconds cannot hold: got nil error, want one")
	}
}

// countingHook counts the commands (or pipelines) a client sends.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *countingHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func TestRevokeUserSessionsIsOneRoundTripAndOneNotice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	ctx := t.Context()
	hook := &countingHook{}
	c := newClient(t, "")
	c.AddHook(hook)
	s := f.open(t, redis.Options{}, "")
	s2, err := redis.New(c, redis.Options{Prefix: f.prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

	rec := subscribe(t, s)
	now := time.Now()
	const n = 1000
	keep := newSession("erin", now, time.Hour)
	mustCreate(t, f.store, keep)
	for range n {
		mustCreate(t, f.store, newSession("erin", now, time.Hour))
	}
	// Load the script on the server, so that the call measured below needs
	// no EVAL fallback.
	if _, err := s2.RevokeUserSessions(ctx, "nobody", storage.TokenHash{}); err != nil {
		t.Fatal(err)
	}

	before := hook.n.Load()
	got, err := s2.RevokeUserSessions(ctx, "erin", keep.TokenHash)
	if err != nil || got != n {
		t.Fatalf("RevokeUserSessions: got %d, %v; want %d, nil", got, err, n)
	}
	if rt := hook.n.Load() - before; rt != 1 {
		t.Errorf("round trips: got %d, want 1", rt)
	}
	if list, err := f.store.ListSessions(ctx, "erin"); err != nil || len(list) != 1 || list[0].Handle != keep.Handle {
		t.Errorf("ListSessions after: got %d sessions, %v; want only the kept one", len(list), err)
	}

	// A marker notice after it: notices on one channel arrive in order, so
	// once the marker is here every notice of the revocation is too.
	marker := newSession("marker", now, time.Hour)
	mustCreate(t, f.store, marker)
	if _, err := f.store.RevokeSession(ctx, "marker", marker.Handle); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, func(r storage.Revocation) bool { return r.TokenHash == marker.TokenHash })
	var erin []storage.Revocation
	for _, r := range rec.all() {
		if r.UserID == "erin" {
			erin = append(erin, r)
		}
	}
	// The warm-up call for "nobody" published one notice too.
	if len(erin) != 1 || !erin[0].TokenHash.IsZero() {
		t.Errorf("notices for erin: got %+v, want one with a zero token hash", erin)
	}
}

func TestDeleteExpiredSessionsLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	ctx := t.Context()
	now := time.Now()
	var gone []*storage.Session
	for i := range 2*256 + 3 { // more than one sweep batch
		x := newSession([]string{"frank", "grace", "heidi"}[i%3], now, time.Hour+time.Duration(i)*time.Millisecond)
		mustCreate(t, f.store, x)
		gone = append(gone, x)
	}
	// One session's key already vanished (its TTL, or eviction): the sweep
	// still removes its index entries.
	if err := f.raw.Del(ctx, f.prefix+"s:"+gone[0].TokenHash.String()).Err(); err != nil {
		t.Fatal(err)
	}
	// A session created already expired gets the shortest TTL and still
	// counts.
	late := newSession("ivan", now.Add(-2*time.Hour), time.Hour)
	mustCreate(t, f.store, late)
	gone = append(gone, late)

	n, err := f.store.DeleteExpiredSessions(ctx, now.Add(2*time.Hour))
	if err != nil || n != len(gone) {
		t.Fatalf("DeleteExpiredSessions: got %d, %v; want %d, nil", n, err, len(gone))
	}
	if keys := f.keys(t); len(keys) != 0 {
		t.Errorf("keys left after the sweep: got %v, want none", keys)
	}
}

// TestGetSessionReturnsFieldsHoldingNULBytes covers the reply that does
// not split into the right number of fields: GetSession must read such a
// session whole, through the array reply.
func TestGetSessionReturnsFieldsHoldingNULBytes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	x := newSession("nul", time.Now().Truncate(time.Millisecond), time.Hour)
	x.UserAgent = "a\x00b\x00"
	x.Location.City = "\x00"
	mustCreate(t, f.store, x)
	got, err := f.store.GetSession(t.Context(), x.TokenHash)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if got.UserAgent != x.UserAgent || got.Location.City != x.Location.City || got.Handle != x.Handle {
		t.Errorf("got UA %q city %q handle %q, want %q %q %q", got.UserAgent, got.Location.City, got.Handle, x.UserAgent, x.Location.City, x.Handle)
	}
}

// TestGetSessionReadsSessionsOfEarlierVersions covers data written before
// the packed copy existed: such a session is read whole, and gains the
// packed copy on that first read.
func TestGetSessionReadsSessionsOfEarlierVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	ctx := t.Context()
	x := newSession("old", time.Now().Truncate(time.Millisecond), time.Hour)
	mustCreate(t, f.store, x)
	key := f.prefix + "s:" + x.TokenHash.String()
	if err := f.raw.HDel(ctx, key, "p").Err(); err != nil { // as an earlier version wrote it
		t.Fatal(err)
	}
	for i := range 2 {
		got, err := f.store.GetSession(ctx, x.TokenHash)
		if err != nil {
			t.Fatalf("GetSession #%d: %v", i+1, err)
		}
		if got.Handle != x.Handle || got.UserAgent != x.UserAgent || !got.ExpiresAt.Equal(x.ExpiresAt) {
			t.Errorf("GetSession #%d: got %+v, want %+v", i+1, got, x)
		}
		if ok, err := f.raw.HExists(ctx, key, "p").Result(); err != nil || !ok {
			t.Errorf("after GetSession #%d: packed copy present: got %v, %v; want true", i+1, ok, err)
		}
	}
}
