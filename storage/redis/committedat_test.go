package redis_test

import (
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// commitSkew bounds how far the server's clock (which stamps a notice)
// may be from this process's on the loopback servers the tests use.
const commitSkew = time.Second

// TestNoticeCarriesItsCommitTime checks, on every configured topology,
// that each kind of revocation notice carries the server's time of the
// script that committed it, between the calls that bracket the commit.
func TestNoticeCarriesItsCommitTime(t *testing.T) {
	for _, tp := range []topology{singleTopology, clusterTopology, sentinelTopology} {
		t.Run(tp.name, func(t *testing.T) {
			t.Parallel()
			f := newTopoFixture(t, tp, redis.Options{})
			rec := subscribe(t, f.store)
			ctx := t.Context()
			user := "committed-" + tp.name
			check := func(what string, op func() storage.Revocation) {
				t.Helper()
				mark := rec.mark()
				before := time.Now()
				want := op()
				after := time.Now()
				got := rec.waitForAfter(t, mark, func(r storage.Revocation) bool {
					return !r.Reset && withoutTime(r) == want
				})
				at := got[len(got)-1].CommittedAt
				if at.Before(before.Add(-commitSkew)) || at.After(after.Add(commitSkew)) {
					t.Errorf("%s: CommittedAt got %v, want within %v of [%v, %v]", what, at, commitSkew, before, after)
				}
			}
			check("RevokeSession", func() storage.Revocation {
				x := newSession(user, time.Now(), time.Hour)
				mustCreate(t, f.store, x)
				if _, err := f.store.RevokeSession(ctx, user, x.Handle); err != nil {
					t.Fatal(err)
				}
				return storage.Revocation{UserID: user, TokenHash: x.TokenHash}
			})
			check("RevokeUserSessions", func() storage.Revocation {
				mustCreate(t, f.store, newSession(user, time.Now(), time.Hour))
				if _, err := f.store.RevokeUserSessions(ctx, user, storage.TokenHash{}); err != nil {
					t.Fatal(err)
				}
				return storage.Revocation{UserID: user}
			})
		})
	}
}

// TestNoticeOfAnEarlierVersionIsRead checks that a notice in the format of
// earlier versions (no time), as an instance not yet upgraded publishes
// it, is still read, with a zero CommittedAt.
func TestNoticeOfAnEarlierVersionIsRead(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	rec := subscribe(t, f.store)
	x := newSession("oscar", time.Now(), time.Hour)
	if err := f.raw.Publish(t.Context(), f.prefix+"revocations", x.TokenHash.String()+"|oscar").Err(); err != nil {
		t.Fatal(err)
	}
	got := rec.waitFor(t, func(r storage.Revocation) bool { return !r.Reset })
	want := storage.Revocation{UserID: "oscar", TokenHash: x.TokenHash}
	if r := got[len(got)-1]; r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
}
