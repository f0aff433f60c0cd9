package postgres_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// commitSkew bounds how far the server's clock (which stamps a notice)
// may be from this process's on the loopback server the tests use.
const commitSkew = time.Second

// checkCommittedAt fails t unless the notice equal to want (but for its
// time) arrives with a CommittedAt within commitSkew of [before, after].
func checkCommittedAt(t *testing.T, n *notices, what string, want storage.Revocation, before, after time.Time) {
	t.Helper()
	waitFor(t, what, func() bool { return n.has(want) })
	at := n.find(want).CommittedAt
	if at.Before(before.Add(-commitSkew)) || at.After(after.Add(commitSkew)) {
		t.Errorf("%s: CommittedAt got %v, want within %v of [%v, %v]", what, at, commitSkew, before, after)
	}
}

// TestNoticeCarriesItsCommitTime checks that every kind of statement that
// revokes stamps its notice with the server's clock, delivered by LISTEN
// and by the feed alike.
func TestNoticeCarriesItsCommitTime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tt := range []struct {
		name string
		opts postgres.Options
	}{
		{"by LISTEN", postgres.Options{Schema: f.schema, ListenURL: f.url}},
		{"by the feed", postgres.Options{Schema: f.schema, FeedOnly: true, FeedInterval: 20 * time.Millisecond}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := f.store(t, tt.opts, nil)
			n := subscribeNotices(t, s)
			ctx := t.Context()
			user := "user-stamped-" + tt.name

			x := testSession(user)
			if err := s.CreateSession(ctx, x); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			y := testSession(user)
			before := time.Now()
			if err := s.RotateSession(ctx, x.TokenHash, y); err != nil {
				t.Fatalf("RotateSession: %v", err)
			}
			checkCommittedAt(t, n, "RotateSession", storage.Revocation{UserID: user, TokenHash: x.TokenHash}, before, time.Now())

			before = time.Now()
			if _, err := s.RevokeSession(ctx, user, y.Handle); err != nil {
				t.Fatalf("RevokeSession: %v", err)
			}
			checkCommittedAt(t, n, "RevokeSession", storage.Revocation{UserID: user, TokenHash: y.TokenHash}, before, time.Now())

			if err := s.CreateSession(ctx, testSession(user)); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			before = time.Now()
			if _, err := s.RevokeUserSessions(ctx, user, storage.TokenHash{}); err != nil {
				t.Fatalf("RevokeUserSessions: %v", err)
			}
			checkCommittedAt(t, n, "RevokeUserSessions", storage.Revocation{UserID: user}, before, time.Now())
		})
	}
}

// TestFeedEntryOfAnEarlierVersionHasItsRowTime checks that a feed entry
// written by an earlier version (a payload without a time) is still
// delivered, with the time of its row as CommittedAt.
func TestFeedEntryOfAnEarlierVersionHasItsRowTime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, postgres.Options{FeedOnly: true, FeedInterval: 20 * time.Millisecond}, nil)
	n := subscribeNotices(t, s)
	before := time.Now()
	adminExec(t, f.url, `INSERT INTO `+pgx.Identifier{f.schema, "revocation_feed"}.Sanitize()+` (payload) VALUES (':user-old')`)
	checkCommittedAt(t, n, "the earlier version's entry", storage.Revocation{UserID: "user-old"}, before, time.Now())
}
