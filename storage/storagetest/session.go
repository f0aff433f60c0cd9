package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func sessionCases() []testCase {
	return []testCase{
		{"CreateThenGetRoundTripsEveryField", testSessionRoundTrip},
		{"GetMissingReturnsNotFound", testSessionGetMissing},
		{"CreateWithExistingTokenHashConflicts", testSessionDuplicateTokenHash},
		{"CreateWithExistingHandleConflicts", testSessionDuplicateHandle},
		{"GetReturnsACopy", testSessionGetReturnsCopy},
		{"CreateKeepsACopyOfItsArgument", testSessionCreateCopies},
		{"ListOfUnknownUserIsEmptyNotAnError", testSessionListEmpty},
		{"ListIsOrderedByLastSeenThenCreated", testSessionListOrder},
		{"ListHoldsOnlyThatUsersSessions", testSessionListIsolation},
		{"TouchReplacesActivityOnly", testSessionTouch},
		{"TouchMissingReturnsNotFound", testSessionTouchMissing},
		{"RotateReplacesOldBySameHandle", testSessionRotate},
		{"RotateCanChangeTheHandle", testSessionRotateNewHandle},
		{"RotateMissingReturnsNotFoundAndStoresNothing", testSessionRotateMissing},
		{"RotateRevokedReturnsNotFoundAndStoresNothing", testSessionRotateRevoked},
		{"RotateOntoAnotherSessionsKeysConflicts", testSessionRotateConflict},
		{"RevokeDeletesAndReturnsTheSession", testSessionRevoke},
		{"RevokeUnknownHandleReturnsNotFound", testSessionRevokeUnknown},
		{"RevokeAnotherUsersSessionReturnsNotFound", testSessionRevokeOtherUser},
		{"RevokedKeysCanBeUsedAgain", testSessionKeysReusable},
		{"RevokeUserSessionsDeletesAllAndCounts", testSessionRevokeUserAll},
		{"RevokeUserSessionsKeepsExcept", testSessionRevokeUserExcept},
		{"RevokeUserSessionsWithNoSessionsReturnsZero", testSessionRevokeUserNone},
		{"DeleteExpiredRemovesExpiresAtNotAfterNow", testSessionDeleteExpired},
		{"DeleteExpiredWithNothingExpiredReturnsZero", testSessionDeleteExpiredNone},
	}
}

func testSessionRoundTrip(t *testing.T, e *env) {
	s := e.store
	base := now()
	want := newSession(randomID(), base)
	want.AuthLevel = storage.AuthSecondFactor
	want.AuthAt = base.Add(1500 * time.Millisecond)
	want.LastSeenAt = base.Add(2*time.Minute + 7*time.Millisecond)
	want.LastSeenIP = "2001:db8:85a3::8a2e:370:7334"
	want.Location = storage.Location{City: "Zürich", Region: "Zürich", Country: "Switzerland", CountryCode: "CH"}
	want.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) \"quoted\" 'single' ✓"
	mustCreateSession(t, s, want)
	got := mustGetSession(t, s, want.TokenHash)
	checkEqual(t, "GetSession", got, want)

	// The other auth levels and an unknown location round-trip too.
	for _, level := range []storage.AuthLevel{storage.AuthPendingSecondFactor, storage.AuthPassword} {
		w := newSession(want.UserID, base)
		w.AuthLevel = level
		w.Location = storage.Location{}
		w.Device = storage.Device{Type: "unknown"}
		w.LastSeenIP, w.UserAgent = "", ""
		mustCreateSession(t, s, w)
		checkEqual(t, "GetSession of level "+level.String(), mustGetSession(t, s, w.TokenHash), w)
	}
}

func testSessionGetMissing(t *testing.T, e *env) {
	_, err := e.store.GetSession(t.Context(), randomHash())
	checkErr(t, "GetSession of an unknown hash", err, storage.ErrNotFound)
}

func testSessionDuplicateTokenHash(t *testing.T, e *env) {
	s := e.store
	first := newSession(randomID(), now())
	mustCreateSession(t, s, first)
	dup := newSession(randomID(), now().Add(time.Hour))
	dup.TokenHash = first.TokenHash
	checkErr(t, "CreateSession with a used token hash", s.CreateSession(t.Context(), dup), storage.ErrConflict)
	checkEqual(t, "the first session after the conflict", mustGetSession(t, s, first.TokenHash), first)
	if got := mustListSessions(t, s, dup.UserID); len(got) != 0 {
		t.Errorf("ListSessions of the conflicting user: got %d sessions, want 0", len(got))
	}
}

func testSessionDuplicateHandle(t *testing.T, e *env) {
	s := e.store
	first := newSession(randomID(), now())
	mustCreateSession(t, s, first)
	dup := newSession(first.UserID, now())
	dup.Handle = first.Handle
	checkErr(t, "CreateSession with a used handle", s.CreateSession(t.Context(), dup), storage.ErrConflict)
	checkNoSession(t, s, dup.TokenHash)
	checkEqual(t, "the first session after the conflict", mustGetSession(t, s, first.TokenHash), first)
	if got := mustListSessions(t, s, first.UserID); len(got) != 1 {
		t.Errorf("ListSessions after the conflict: got %d sessions, want 1", len(got))
	}
}

func testSessionGetReturnsCopy(t *testing.T, e *env) {
	s := e.store
	want := newSession(randomID(), now())
	mustCreateSession(t, s, want)
	got := mustGetSession(t, s, want.TokenHash)
	got.UserID = "mallory"
	got.AuthLevel = storage.AuthSecondFactor
	got.ExpiresAt = got.ExpiresAt.Add(time.Hour)
	got.Device.Browser = "changed"
	checkEqual(t, "GetSession after changing a returned session", mustGetSession(t, s, want.TokenHash), want)

	list := mustListSessions(t, s, want.UserID)
	list[0].Handle = "changed"
	list[0].LastSeenIP = "changed"
	checkEqual(t, "GetSession after changing a listed session", mustGetSession(t, s, want.TokenHash), want)
}

func testSessionCreateCopies(t *testing.T, e *env) {
	s := e.store
	want := newSession(randomID(), now())
	arg := *want
	mustCreateSession(t, s, &arg)
	arg.UserID = "mallory"
	arg.Handle = "changed"
	arg.AuthLevel = storage.AuthSecondFactor
	arg.Location.City = "changed"
	checkEqual(t, "GetSession after changing the created value", mustGetSession(t, s, want.TokenHash), want)
}

func testSessionListEmpty(t *testing.T, e *env) {
	got, err := e.store.ListSessions(t.Context(), randomID())
	checkErr(t, "ListSessions of an unknown user", err, nil)
	if len(got) != 0 {
		t.Errorf("ListSessions of an unknown user: got %d sessions, want 0", len(got))
	}
}

func testSessionListOrder(t *testing.T, e *env) {
	s := e.store
	user, base := randomID(), now()
	mk := func(lastSeen, created time.Duration) *storage.Session {
		x := newSession(user, base.Add(created))
		x.LastSeenAt = base.Add(lastSeen)
		return x
	}
	s1 := mk(3*time.Minute, -time.Hour)
	s2 := mk(2*time.Minute, -time.Minute)
	s3 := mk(2*time.Minute, -2*time.Minute) // same LastSeenAt as s2, created earlier
	s4 := mk(time.Minute, 0)
	for _, x := range []*storage.Session{s3, s1, s4, s2} {
		mustCreateSession(t, s, x)
	}
	got := mustListSessions(t, s, user)
	want := []*storage.Session{s1, s2, s3, s4}
	if len(got) != len(want) {
		t.Fatalf("ListSessions: got %d sessions, want %d", len(got), len(want))
	}
	for i := range want {
		checkEqual(t, "ListSessions element", &got[i], want[i])
	}

	// Touching s4 makes it the most recent.
	checkErr(t, "TouchSession", s.TouchSession(t.Context(), s4.TokenHash, storage.Activity{At: base.Add(4 * time.Minute)}), nil)
	got = mustListSessions(t, s, user)
	wantHandles := []string{s4.Handle, s1.Handle, s2.Handle, s3.Handle}
	if !slices.Equal(handles(got), wantHandles) {
		t.Errorf("ListSessions after touching the oldest: got %v, want %v", handles(got), wantHandles)
	}
}

func testSessionListIsolation(t *testing.T, e *env) {
	s := e.store
	alice, bob := randomID(), randomID()
	a1, a2 := newSession(alice, now()), newSession(alice, now().Add(-time.Minute))
	b1 := newSession(bob, now())
	for _, x := range []*storage.Session{a1, b1, a2} {
		mustCreateSession(t, s, x)
	}
	got := mustListSessions(t, s, alice)
	want := []string{a1.Handle, a2.Handle}
	if !slices.Equal(handles(got), want) {
		t.Errorf("ListSessions(alice): got %v, want %v", handles(got), want)
	}
	if got := mustListSessions(t, s, bob); !slices.Equal(handles(got), []string{b1.Handle}) {
		t.Errorf("ListSessions(bob): got %v, want [%s]", handles(got), b1.Handle)
	}
}

func testSessionTouch(t *testing.T, e *env) {
	s := e.store
	base := now()
	orig := newSession(randomID(), base)
	mustCreateSession(t, s, orig)
	a := storage.Activity{
		At:        base.Add(90*time.Second + 123*time.Millisecond),
		IP:        "198.51.100.23",
		UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1",
		Device:    storage.Device{Browser: "Safari", BrowserVersion: "17", OS: "iOS", Type: "mobile"},
		Location:  storage.Location{City: "Porto", Region: "Porto", Country: "Portugal", CountryCode: "PT"},
	}
	checkErr(t, "TouchSession", s.TouchSession(t.Context(), orig.TokenHash, a), nil)
	want := *orig
	want.LastSeenAt, want.LastSeenIP, want.UserAgent, want.Device, want.Location = a.At, a.IP, a.UserAgent, a.Device, a.Location
	checkEqual(t, "GetSession after TouchSession", mustGetSession(t, s, orig.TokenHash), &want)

	// An activity with an unknown place clears the location.
	a2 := storage.Activity{At: a.At.Add(time.Minute), IP: "192.0.2.1", UserAgent: "curl/8.0", Device: storage.Device{Type: "unknown"}}
	checkErr(t, "TouchSession", s.TouchSession(t.Context(), orig.TokenHash, a2), nil)
	want.LastSeenAt, want.LastSeenIP, want.UserAgent, want.Device, want.Location = a2.At, a2.IP, a2.UserAgent, a2.Device, a2.Location
	checkEqual(t, "GetSession after a second TouchSession", mustGetSession(t, s, orig.TokenHash), &want)
}

func testSessionTouchMissing(t *testing.T, e *env) {
	s := e.store
	h := randomHash()
	err := s.TouchSession(t.Context(), h, storage.Activity{At: now(), IP: "192.0.2.1"})
	checkErr(t, "TouchSession of an unknown hash", err, storage.ErrNotFound)
	checkNoSession(t, s, h)

	// A revoked session cannot be touched back to life.
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	if _, err := s.RevokeSession(t.Context(), x.UserID, x.Handle); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	err = s.TouchSession(t.Context(), x.TokenHash, storage.Activity{At: now()})
	checkErr(t, "TouchSession of a revoked session", err, storage.ErrNotFound)
	checkNoSession(t, s, x.TokenHash)
}

// rotated returns the session that replaces old at rotation: a new token,
// the same handle and creation time, a second-factor level.
func rotated(old *storage.Session, at time.Time) *storage.Session {
	n := *old
	n.TokenHash = randomHash()
	n.AuthLevel = storage.AuthSecondFactor
	n.AuthAt = at
	n.LastSeenAt = at
	return &n
}

func testSessionRotate(t *testing.T, e *env) {
	s := e.store
	base := now()
	old := newSession(randomID(), base)
	old.AuthLevel = storage.AuthPendingSecondFactor
	mustCreateSession(t, s, old)
	next := rotated(old, base.Add(30*time.Second))
	checkErr(t, "RotateSession", s.RotateSession(t.Context(), old.TokenHash, next), nil)
	checkNoSession(t, s, old.TokenHash)
	checkEqual(t, "GetSession of the new token", mustGetSession(t, s, next.TokenHash), next)
	list := mustListSessions(t, s, old.UserID)
	if len(list) != 1 {
		t.Fatalf("ListSessions after rotation: got %d sessions, want 1", len(list))
	}
	checkEqual(t, "ListSessions after rotation", &list[0], next)

	// The handle now names the new session.
	got, err := s.RevokeSession(t.Context(), old.UserID, old.Handle)
	checkErr(t, "RevokeSession by the kept handle", err, nil)
	if got.TokenHash != next.TokenHash {
		t.Errorf("RevokeSession by the kept handle: got token hash %v, want %v", got.TokenHash, next.TokenHash)
	}
	checkNoSession(t, s, next.TokenHash)
}

func testSessionRotateNewHandle(t *testing.T, e *env) {
	s := e.store
	old := newSession(randomID(), now())
	mustCreateSession(t, s, old)
	next := rotated(old, now())
	next.Handle = randomID()
	checkErr(t, "RotateSession with a new handle", s.RotateSession(t.Context(), old.TokenHash, next), nil)
	checkEqual(t, "GetSession of the new token", mustGetSession(t, s, next.TokenHash), next)
	_, err := s.RevokeSession(t.Context(), old.UserID, old.Handle)
	checkErr(t, "RevokeSession by the old handle", err, storage.ErrNotFound)
	// The old handle is free again.
	reuse := newSession(old.UserID, now())
	reuse.Handle = old.Handle
	mustCreateSession(t, s, reuse)
	if _, err := s.RevokeSession(t.Context(), old.UserID, next.Handle); err != nil {
		t.Fatalf("RevokeSession by the new handle: got error %v, want nil", err)
	}
	checkNoSession(t, s, next.TokenHash)
	checkEqual(t, "the session holding the old handle", mustGetSession(t, s, reuse.TokenHash), reuse)
}

func testSessionRotateMissing(t *testing.T, e *env) {
	s := e.store
	old := newSession(randomID(), now())
	next := rotated(old, now())
	checkErr(t, "RotateSession of an unknown hash", s.RotateSession(t.Context(), old.TokenHash, next), storage.ErrNotFound)
	checkNoSession(t, s, next.TokenHash)
	if got := mustListSessions(t, s, old.UserID); len(got) != 0 {
		t.Errorf("ListSessions after a failed rotation: got %d sessions, want 0", len(got))
	}
}

func testSessionRotateRevoked(t *testing.T, e *env) {
	s := e.store
	old := newSession(randomID(), now())
	mustCreateSession(t, s, old)
	if _, err := s.RevokeSession(t.Context(), old.UserID, old.Handle); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	next := rotated(old, now())
	checkErr(t, "RotateSession of a revoked session", s.RotateSession(t.Context(), old.TokenHash, next), storage.ErrNotFound)
	checkNoSession(t, s, next.TokenHash)
	checkNoSession(t, s, old.TokenHash)
	if got := mustListSessions(t, s, old.UserID); len(got) != 0 {
		t.Errorf("ListSessions after rotating a revoked session: got %d sessions, want 0", len(got))
	}

	// Nor after RevokeUserSessions.
	old2 := newSession(old.UserID, now())
	mustCreateSession(t, s, old2)
	if _, err := s.RevokeUserSessions(t.Context(), old.UserID, storage.TokenHash{}); err != nil {
		t.Fatalf("RevokeUserSessions: got error %v, want nil", err)
	}
	next2 := rotated(old2, now())
	checkErr(t, "RotateSession after RevokeUserSessions", s.RotateSession(t.Context(), old2.TokenHash, next2), storage.ErrNotFound)
	checkNoSession(t, s, next2.TokenHash)
}

func testSessionRotateConflict(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	old, other := newSession(user, now()), newSession(user, now().Add(-time.Minute))
	mustCreateSession(t, s, old)
	mustCreateSession(t, s, other)

	byHash := rotated(old, now())
	byHash.TokenHash = other.TokenHash
	checkErr(t, "RotateSession onto another session's token hash", s.RotateSession(t.Context(), old.TokenHash, byHash), storage.ErrConflict)

	byHandle := rotated(old, now())
	byHandle.Handle = other.Handle
	checkErr(t, "RotateSession onto another session's handle", s.RotateSession(t.Context(), old.TokenHash, byHandle), storage.ErrConflict)
	checkNoSession(t, s, byHandle.TokenHash)

	checkEqual(t, "the rotated session after the conflicts", mustGetSession(t, s, old.TokenHash), old)
	checkEqual(t, "the other session after the conflicts", mustGetSession(t, s, other.TokenHash), other)
	if got := mustListSessions(t, s, user); len(got) != 2 {
		t.Errorf("ListSessions after the conflicts: got %d sessions, want 2", len(got))
	}
}

func testSessionRevoke(t *testing.T, e *env) {
	s := e.store
	x := newSession(randomID(), now())
	keep := newSession(x.UserID, now())
	mustCreateSession(t, s, x)
	mustCreateSession(t, s, keep)
	got, err := s.RevokeSession(t.Context(), x.UserID, x.Handle)
	checkErr(t, "RevokeSession", err, nil)
	checkEqual(t, "RevokeSession's returned session", got, x)
	checkNoSession(t, s, x.TokenHash)
	if list := mustListSessions(t, s, x.UserID); !slices.Equal(handles(list), []string{keep.Handle}) {
		t.Errorf("ListSessions after RevokeSession: got %v, want [%s]", handles(list), keep.Handle)
	}
	_, err = s.RevokeSession(t.Context(), x.UserID, x.Handle)
	checkErr(t, "a second RevokeSession", err, storage.ErrNotFound)
	checkEqual(t, "the user's other session", mustGetSession(t, s, keep.TokenHash), keep)
}

func testSessionRevokeUnknown(t *testing.T, e *env) {
	s := e.store
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	_, err := s.RevokeSession(t.Context(), x.UserID, randomID())
	checkErr(t, "RevokeSession of an unknown handle", err, storage.ErrNotFound)
	_, err = s.RevokeSession(t.Context(), randomID(), randomID())
	checkErr(t, "RevokeSession of an unknown user", err, storage.ErrNotFound)
	checkEqual(t, "the existing session", mustGetSession(t, s, x.TokenHash), x)
}

func testSessionRevokeOtherUser(t *testing.T, e *env) {
	s := e.store
	victim := newSession(randomID(), now())
	mustCreateSession(t, s, victim)
	attacker := randomID()
	mustCreateSession(t, s, newSession(attacker, now()))
	got, err := s.RevokeSession(t.Context(), attacker, victim.Handle)
	if err == nil {
		t.Fatalf("RevokeSession of another user's session: got %+v, nil; want ErrNotFound", got)
	}
	checkErr(t, "RevokeSession of another user's session", err, storage.ErrNotFound)
	checkEqual(t, "the other user's session", mustGetSession(t, s, victim.TokenHash), victim)
}

func testSessionKeysReusable(t *testing.T, e *env) {
	s := e.store
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	if _, err := s.RevokeSession(t.Context(), x.UserID, x.Handle); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	// A revoked session is indistinguishable from one that never existed.
	again := newSession(randomID(), now())
	again.TokenHash, again.Handle = x.TokenHash, x.Handle
	mustCreateSession(t, s, again)
	checkEqual(t, "GetSession of the re-created session", mustGetSession(t, s, x.TokenHash), again)
	if got := mustListSessions(t, s, x.UserID); len(got) != 0 {
		t.Errorf("ListSessions of the first owner: got %d sessions, want 0", len(got))
	}
}

func testSessionRevokeUserAll(t *testing.T, e *env) {
	s := e.store
	user, other := randomID(), randomID()
	var mine []*storage.Session
	for range 5 {
		x := newSession(user, now())
		mustCreateSession(t, s, x)
		mine = append(mine, x)
	}
	theirs := newSession(other, now())
	mustCreateSession(t, s, theirs)

	n, err := s.RevokeUserSessions(t.Context(), user, storage.TokenHash{})
	checkErr(t, "RevokeUserSessions", err, nil)
	if n != len(mine) {
		t.Errorf("RevokeUserSessions: got %d, want %d", n, len(mine))
	}
	for _, x := range mine {
		checkNoSession(t, s, x.TokenHash)
	}
	if got := mustListSessions(t, s, user); len(got) != 0 {
		t.Errorf("ListSessions after RevokeUserSessions: got %d sessions, want 0", len(got))
	}
	checkEqual(t, "another user's session", mustGetSession(t, s, theirs.TokenHash), theirs)

	n, err = s.RevokeUserSessions(t.Context(), user, storage.TokenHash{})
	checkErr(t, "a second RevokeUserSessions", err, nil)
	if n != 0 {
		t.Errorf("a second RevokeUserSessions: got %d, want 0", n)
	}
}

func testSessionRevokeUserExcept(t *testing.T, e *env) {
	s := e.store
	user, other := randomID(), randomID()
	current := newSession(user, now())
	mustCreateSession(t, s, current)
	var rest []*storage.Session
	for range 3 {
		x := newSession(user, now())
		mustCreateSession(t, s, x)
		rest = append(rest, x)
	}
	theirs := newSession(other, now())
	mustCreateSession(t, s, theirs)

	n, err := s.RevokeUserSessions(t.Context(), user, current.TokenHash)
	checkErr(t, "RevokeUserSessions with except", err, nil)
	if n != len(rest) {
		t.Errorf("RevokeUserSessions with except: got %d, want %d", n, len(rest))
	}
	for _, x := range rest {
		checkNoSession(t, s, x.TokenHash)
	}
	checkEqual(t, "the excepted session", mustGetSession(t, s, current.TokenHash), current)
	if got := mustListSessions(t, s, user); !slices.Equal(handles(got), []string{current.Handle}) {
		t.Errorf("ListSessions after RevokeUserSessions: got %v, want [%s]", handles(got), current.Handle)
	}

	// except naming another user's session protects nothing of this user
	// and touches nothing of the other.
	x := newSession(user, now())
	mustCreateSession(t, s, x)
	n, err = s.RevokeUserSessions(t.Context(), user, theirs.TokenHash)
	checkErr(t, "RevokeUserSessions except another user's session", err, nil)
	if n != 2 {
		t.Errorf("RevokeUserSessions except another user's session: got %d, want 2", n)
	}
	checkEqual(t, "another user's session", mustGetSession(t, s, theirs.TokenHash), theirs)
}

func testSessionRevokeUserNone(t *testing.T, e *env) {
	n, err := e.store.RevokeUserSessions(t.Context(), randomID(), storage.TokenHash{})
	checkErr(t, "RevokeUserSessions of a user without sessions", err, nil)
	if n != 0 {
		t.Errorf("RevokeUserSessions of a user without sessions: got %d, want 0", n)
	}
}

func testSessionDeleteExpired(t *testing.T, e *env) {
	s := e.store
	// Every expiry is in the future of the wall clock, so that a backend
	// that also expires records by TTL (redis) keeps them all until the
	// explicit sweep.
	base := now()
	cut := base.Add(3 * time.Hour)
	mk := func(user string, expires time.Time) *storage.Session {
		x := newSession(user, base)
		x.ExpiresAt = expires
		mustCreateSession(t, s, x)
		return x
	}
	alice, bob := randomID(), randomID()
	gone := []*storage.Session{
		mk(alice, cut),                          // ExpiresAt == now: expired
		mk(alice, cut.Add(-time.Millisecond)),   // just before
		mk(bob, cut.Add(-20*time.Minute)),       // another user's
		mk(bob, base.Add(time.Hour)),            // long before
		mk(randomID(), cut.Add(-time.Second*3)), // a third user
	}
	kept := []*storage.Session{
		mk(alice, cut.Add(time.Millisecond)), // just after
		mk(bob, cut.Add(24*time.Hour)),
	}
	n, err := s.DeleteExpiredSessions(t.Context(), cut)
	checkErr(t, "DeleteExpiredSessions", err, nil)
	if n != len(gone) {
		t.Errorf("DeleteExpiredSessions: got %d, want %d", n, len(gone))
	}
	for _, x := range gone {
		checkNoSession(t, s, x.TokenHash)
	}
	for _, x := range kept {
		checkEqual(t, "a session expiring after now", mustGetSession(t, s, x.TokenHash), x)
	}
	if got := mustListSessions(t, s, alice); !slices.Equal(handles(got), []string{kept[0].Handle}) {
		t.Errorf("ListSessions(alice) after the sweep: got %v, want [%s]", handles(got), kept[0].Handle)
	}
	if got := mustListSessions(t, s, bob); !slices.Equal(handles(got), []string{kept[1].Handle}) {
		t.Errorf("ListSessions(bob) after the sweep: got %v, want [%s]", handles(got), kept[1].Handle)
	}
	// Swept handles are free again.
	reuse := newSession(alice, base)
	reuse.Handle = gone[0].Handle
	mustCreateSession(t, s, reuse)
}

func testSessionDeleteExpiredNone(t *testing.T, e *env) {
	s := e.store
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	n, err := s.DeleteExpiredSessions(t.Context(), x.CreatedAt)
	checkErr(t, "DeleteExpiredSessions", err, nil)
	if n != 0 {
		t.Errorf("DeleteExpiredSessions with nothing expired: got %d, want 0", n)
	}
	checkEqual(t, "the live session", mustGetSession(t, s, x.TokenHash), x)
}
