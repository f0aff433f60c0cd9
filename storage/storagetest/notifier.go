package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// noticeTimeout bounds the wait for a revocation notice. In-process delivery
// is immediate; a pub/sub round trip takes milliseconds.
const noticeTimeout = 5 * time.Second

func notifierCases() []testCase {
	return []testCase{
		{"RevokeSessionNotifiesItsTokenHash", testNotifyRevokeSession},
		{"RevokeUserSessionsNotifiesTheUser", testNotifyRevokeUserSessions},
		{"RotateSessionNotifiesTheOldTokenHash", testNotifyRotate},
		{"RevokeAppGrantNotifiesItsTokenHash", testNotifyRevokeGrant},
		{"RevokeUserAppGrantsNotifiesTheUser", testNotifyRevokeUserGrants},
		{"DeleteExpiredSessionsDoesNotNotify", testNotifyNotOnExpiry},
		{"NoticeArrivesAfterTheChangeIsVisible", testNotifyAfterCommit},
		{"EverySubscriptionReceives", testNotifyTwoSubscriptions},
		{"CancelStopsDelivery", testNotifyCancel},
		{"PeerRevocationReachesThisClient", testNotifyFromPeer},
		{"RevocationReachesPeerSubscriber", testNotifyToPeer},
	}
}

// recorder collects the notices delivered to one subscription. Its fn
// never blocks.
type recorder struct {
	mu     sync.Mutex
	got    []storage.Revocation
	signal chan struct{} // one pending wake-up
}

func (r *recorder) fn(rev storage.Revocation) {
	r.mu.Lock()
	r.got = append(r.got, rev)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// has reports whether a notice equal to want (not a Reset) was delivered.
func (r *recorder) has(want storage.Revocation) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rev := range r.got {
		if !rev.Reset && rev.UserID == want.UserID && rev.TokenHash == want.TokenHash {
			return true
		}
	}
	return false
}

// about returns the notices about userID delivered so far.
func (r *recorder) about(userID string) []storage.Revocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []storage.Revocation
	for _, rev := range r.got {
		if rev.UserID == userID {
			out = append(out, rev)
		}
	}
	return out
}

// wait fails t unless a notice equal to want arrives within noticeTimeout.
// Other notices (resets, other users, extra ones) are allowed: a subscriber
// only ever drops cached state on a notice.
func (r *recorder) wait(t *testing.T, what string, want storage.Revocation) {
	t.Helper()
	deadline := time.NewTimer(noticeTimeout)
	defer deadline.Stop()
	for !r.has(want) {
		select {
		case <-r.signal:
		case <-deadline.C:
			t.Fatalf("%s: no notice %s within %v; got %s", what, describe(want), noticeTimeout, describeAll(r.about(want.UserID)))
		}
	}
}

func describe(r storage.Revocation) string {
	if r.Reset {
		return "{Reset}"
	}
	if r.TokenHash.IsZero() {
		return fmt.Sprintf("{UserID %q, zero TokenHash}", r.UserID)
	}
	return fmt.Sprintf("{UserID %q, TokenHash %v}", r.UserID, r.TokenHash)
}

func describeAll(rs []storage.Revocation) string {
	if len(rs) == 0 {
		return "no notice about that user"
	}
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += describe(r)
	}
	return s
}

// subscribe subscribes a new recorder to s, cancelled at the end of t. It
// skips t if s has no notifier.
func subscribe(t *testing.T, s storage.Store) (*recorder, func()) {
	t.Helper()
	r := &recorder{signal: make(chan struct{}, 1)}
	cancel, err := s.Subscribe(r.fn)
	if errors.Is(err, storage.ErrNoNotifier) {
		t.Skip("Subscribe returned storage.ErrNoNotifier: the backend has no notifier")
	}
	if err != nil {
		t.Fatalf("Subscribe: got error %v, want nil", err)
	}
	t.Cleanup(cancel)
	return r, cancel
}

// fence revokes a session of a new user through s and waits until r has
// the notice. Notices from one client arrive in order, so a notice sent
// before the fence has arrived by then.
func fence(t *testing.T, s storage.Store, r *recorder) {
	t.Helper()
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	if _, err := s.RevokeSession(t.Context(), x.UserID, x.Handle); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	r.wait(t, "the fence revocation", storage.Revocation{UserID: x.UserID, TokenHash: x.TokenHash})
}

func testNotifyRevokeSession(t *testing.T, e *env) {
	s := e.store
	r, _ := subscribe(t, s)
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	if _, err := s.RevokeSession(t.Context(), x.UserID, x.Handle); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	r.wait(t, "RevokeSession", storage.Revocation{UserID: x.UserID, TokenHash: x.TokenHash})
}

func testNotifyRevokeUserSessions(t *testing.T, e *env) {
	s := e.store
	r, _ := subscribe(t, s)
	user := randomID()
	for range 3 {
		mustCreateSession(t, s, newSession(user, now()))
	}
	if _, err := s.RevokeUserSessions(t.Context(), user, storage.TokenHash{}); err != nil {
		t.Fatalf("RevokeUserSessions: got error %v, want nil", err)
	}
	r.wait(t, "RevokeUserSessions", storage.Revocation{UserID: user})
	// "Subscribers are notified once", not once per session.
	fence(t, s, r)
	if got := r.about(user); len(got) != 1 {
		t.Errorf("RevokeUserSessions of 3 sessions: got notices %s, want exactly one", describeAll(got))
	}

	// With except, too.
	user2 := randomID()
	keep := newSession(user2, now())
	mustCreateSession(t, s, keep)
	mustCreateSession(t, s, newSession(user2, now()))
	if _, err := s.RevokeUserSessions(t.Context(), user2, keep.TokenHash); err != nil {
		t.Fatalf("RevokeUserSessions with except: got error %v, want nil", err)
	}
	r.wait(t, "RevokeUserSessions with except", storage.Revocation{UserID: user2})
}

func testNotifyRotate(t *testing.T, e *env) {
	s := e.store
	r, _ := subscribe(t, s)
	old := newSession(randomID(), now())
	mustCreateSession(t, s, old)
	checkErr(t, "RotateSession", s.RotateSession(t.Context(), old.TokenHash, rotated(old, now())), nil)
	r.wait(t, "RotateSession", storage.Revocation{UserID: old.UserID, TokenHash: old.TokenHash})
}

func testNotifyRevokeGrant(t *testing.T, e *env) {
	s := e.store
	r, _ := subscribe(t, s)
	g := newGrant(randomID(), now())
	mustCreateGrant(t, s, g)
	if _, err := s.RevokeAppGrant(t.Context(), g.UserID, g.ID); err != nil {
		t.Fatalf("RevokeAppGrant: got error %v, want nil", err)
	}
	r.wait(t, "RevokeAppGrant", storage.Revocation{UserID: g.UserID, TokenHash: g.TokenHash})
}

func testNotifyRevokeUserGrants(t *testing.T, e *env) {
	s := e.store
	r, _ := subscribe(t, s)
	user := randomID()
	mustCreateGrant(t, s, newGrant(user, now()))
	mustCreateGrant(t, s, newGrant(user, now()))
	if _, err := s.RevokeUserAppGrants(t.Context(), user); err != nil {
		t.Fatalf("RevokeUserAppGrants: got error %v, want nil", err)
	}
	r.wait(t, "RevokeUserAppGrants", storage.Revocation{UserID: user})
	fence(t, s, r)
	if got := r.about(user); len(got) != 1 {
		t.Errorf("RevokeUserAppGrants of 2 grants: got notices %s, want exactly one", describeAll(got))
	}
}

func testNotifyNotOnExpiry(t *testing.T, e *env) {
	s := e.store
	r, _ := subscribe(t, s)
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	n, err := s.DeleteExpiredSessions(t.Context(), x.ExpiresAt)
	checkErr(t, "DeleteExpiredSessions", err, nil)
	if n != 1 {
		t.Fatalf("DeleteExpiredSessions: got %d, want 1", n)
	}
	fence(t, s, r)
	if got := r.about(x.UserID); len(got) != 0 {
		t.Errorf("DeleteExpiredSessions: got notices %s, want none", describeAll(got))
	}
}

// stateAtNotice subscribes to c a check that runs inside the subscriber,
// at the moment a notice is delivered: what the notice revokes must
// already be gone when read through c. A notice sent before the commit
// finds it still there. The check reads through the store from inside fn,
// which a real subscriber must not do (fn must not block), but a read is
// quick and this one runs only in the test.
func stateAtNotice(t *testing.T, c storage.Store) func() []string {
	t.Helper()
	var (
		mu   sync.Mutex
		errs []string
	)
	cancel, err := c.Subscribe(func(rev storage.Revocation) {
		if rev.Reset {
			return
		}
		ctx := t.Context()
		var found string
		if rev.TokenHash.IsZero() {
			if list, err := c.ListSessions(ctx, rev.UserID); err == nil && len(list) > 0 {
				found = fmt.Sprintf("%d sessions of the user", len(list))
			}
		} else {
			if _, err := c.GetSession(ctx, rev.TokenHash); err == nil {
				found = "the session"
			}
			if _, err := c.GetAppGrant(ctx, rev.TokenHash); err == nil {
				found = "the app grant"
			}
		}
		if found != "" {
			mu.Lock()
			errs = append(errs, fmt.Sprintf("notice %s delivered while %s could still be read", describe(rev), found))
			mu.Unlock()
		}
	})
	if errors.Is(err, storage.ErrNoNotifier) {
		t.Skip("Subscribe returned storage.ErrNoNotifier: the backend has no notifier")
	}
	if err != nil {
		t.Fatalf("Subscribe: got error %v, want nil", err)
	}
	t.Cleanup(cancel)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

// testNotifyAfterCommit checks that a subscriber that reacts to a notice
// reads the new state: the notice is sent after the change is committed.
// Subscribers of every client check the state the moment they are called
// (in-process delivery on the revoking client, cross-client delivery on
// the peer), and once more after the notice arrived.
func testNotifyAfterCommit(t *testing.T, e *env) {
	clients := e.clients()
	reader := clients[len(clients)-1] // the peer if there is one
	s := e.store
	r, _ := subscribe(t, reader)
	var checks []func() []string
	for _, c := range clients {
		checks = append(checks, stateAtNotice(t, c))
	}
	defer func() {
		for _, check := range checks {
			for _, msg := range check() {
				t.Error(msg)
			}
		}
	}()

	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	done := make(chan error, 1)
	go func() {
		_, err := s.RevokeSession(t.Context(), x.UserID, x.Handle)
		done <- err
	}()
	r.wait(t, "RevokeSession", storage.Revocation{UserID: x.UserID, TokenHash: x.TokenHash})
	checkNoSession(t, reader, x.TokenHash)
	checkErr(t, "RevokeSession", <-done, nil)

	user := randomID()
	var hs []storage.TokenHash
	for range 3 {
		y := newSession(user, now())
		mustCreateSession(t, s, y)
		hs = append(hs, y.TokenHash)
	}
	go func() {
		_, err := s.RevokeUserSessions(t.Context(), user, storage.TokenHash{})
		done <- err
	}()
	r.wait(t, "RevokeUserSessions", storage.Revocation{UserID: user})
	for _, h := range hs {
		checkNoSession(t, reader, h)
	}
	checkErr(t, "RevokeUserSessions", <-done, nil)

	old := newSession(randomID(), now())
	mustCreateSession(t, s, old)
	next := rotated(old, now())
	go func() { done <- s.RotateSession(t.Context(), old.TokenHash, next) }()
	r.wait(t, "RotateSession", storage.Revocation{UserID: old.UserID, TokenHash: old.TokenHash})
	checkNoSession(t, reader, old.TokenHash)
	checkErr(t, "RotateSession", <-done, nil)
	checkEqual(t, "GetSession of the rotated session", mustGetSession(t, reader, next.TokenHash), next)

	g := newGrant(randomID(), now())
	mustCreateGrant(t, s, g)
	go func() {
		_, err := s.RevokeAppGrant(t.Context(), g.UserID, g.ID)
		done <- err
	}()
	r.wait(t, "RevokeAppGrant", storage.Revocation{UserID: g.UserID, TokenHash: g.TokenHash})
	checkNoGrant(t, reader, g.TokenHash)
	checkErr(t, "RevokeAppGrant", <-done, nil)
}

func testNotifyTwoSubscriptions(t *testing.T, e *env) {
	s := e.store
	r1, _ := subscribe(t, s)
	r2, _ := subscribe(t, s)
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	if _, err := s.RevokeSession(t.Context(), x.UserID, x.Handle); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	want := storage.Revocation{UserID: x.UserID, TokenHash: x.TokenHash}
	r1.wait(t, "the first subscription", want)
	r2.wait(t, "the second subscription", want)
}

func testNotifyCancel(t *testing.T, e *env) {
	s := e.store
	stopped, cancel := subscribe(t, s)
	live, _ := subscribe(t, s)
	cancel()
	cancel() // safe to call twice

	user := randomID()
	for i := range 2 {
		x := newSession(user, now())
		mustCreateSession(t, s, x)
		if _, err := s.RevokeSession(t.Context(), x.UserID, x.Handle); err != nil {
			t.Fatalf("RevokeSession: got error %v, want nil", err)
		}
		// Once the live subscription has the notice, a delivery to the
		// cancelled one would have happened too.
		live.wait(t, fmt.Sprintf("revocation #%d to the live subscription", i+1), storage.Revocation{UserID: user, TokenHash: x.TokenHash})
	}
	if got := stopped.about(user); len(got) != 0 {
		t.Errorf("the cancelled subscription: got %s, want no notice", describeAll(got))
	}
}

func testNotifyFromPeer(t *testing.T, e *env) {
	s := e.store
	peer := e.peer(t)
	r, _ := subscribe(t, s)
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	if _, err := peer.RevokeSession(t.Context(), x.UserID, x.Handle); err != nil {
		t.Fatalf("RevokeSession through the peer: got error %v, want nil", err)
	}
	r.wait(t, "RevokeSession through the peer", storage.Revocation{UserID: x.UserID, TokenHash: x.TokenHash})

	user := randomID()
	mustCreateSession(t, peer, newSession(user, now()))
	if _, err := peer.RevokeUserSessions(t.Context(), user, storage.TokenHash{}); err != nil {
		t.Fatalf("RevokeUserSessions through the peer: got error %v, want nil", err)
	}
	r.wait(t, "RevokeUserSessions through the peer", storage.Revocation{UserID: user})
}

func testNotifyToPeer(t *testing.T, e *env) {
	s := e.store
	peer := e.peer(t)
	r, _ := subscribe(t, peer)
	g := newGrant(randomID(), now())
	mustCreateGrant(t, s, g)
	if _, err := s.RevokeAppGrant(t.Context(), g.UserID, g.ID); err != nil {
		t.Fatalf("RevokeAppGrant: got error %v, want nil", err)
	}
	r.wait(t, "RevokeAppGrant seen by the peer", storage.Revocation{UserID: g.UserID, TokenHash: g.TokenHash})

	old := newSession(randomID(), now())
	mustCreateSession(t, s, old)
	checkErr(t, "RotateSession", s.RotateSession(t.Context(), old.TokenHash, rotated(old, now())), nil)
	r.wait(t, "RotateSession seen by the peer", storage.Revocation{UserID: old.UserID, TokenHash: old.TokenHash})
}
