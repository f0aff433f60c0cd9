package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func appGrantCases() []testCase {
	return []testCase{
		{"CreateThenGetRoundTripsEveryField", testGrantRoundTrip},
		{"GetMissingReturnsNotFound", testGrantGetMissing},
		{"CreateWithExistingIDConflicts", testGrantDuplicateID},
		{"CreateWithExistingTokenHashConflicts", testGrantDuplicateTokenHash},
		{"ValuesAreCopiedInAndOut", testGrantCopies},
		{"ListOfUnknownUserIsEmptyNotAnError", testGrantListEmpty},
		{"ListIsNewestFirstAndPerUser", testGrantList},
		{"TouchSetsLastUsedAt", testGrantTouch},
		{"TouchMissingReturnsNotFound", testGrantTouchMissing},
		{"RevokeDeletesAndReturnsTheGrant", testGrantRevoke},
		{"RevokeAnotherUsersGrantReturnsNotFound", testGrantRevokeOtherUser},
		{"RevokeUserAppGrantsDeletesAllAndCounts", testGrantRevokeUser},
	}
}

func mustCreateGrant(t *testing.T, s storage.Store, g *storage.AppGrant) {
	t.Helper()
	checkErr(t, "CreateAppGrant", s.CreateAppGrant(t.Context(), g), nil)
}

func mustGetGrant(t *testing.T, s storage.Store, h storage.TokenHash) *storage.AppGrant {
	t.Helper()
	g, err := s.GetAppGrant(t.Context(), h)
	checkErr(t, "GetAppGrant", err, nil)
	return g
}

func checkNoGrant(t *testing.T, s storage.Store, h storage.TokenHash) {
	t.Helper()
	_, err := s.GetAppGrant(t.Context(), h)
	checkErr(t, "GetAppGrant of a grant that must be gone", err, storage.ErrNotFound)
}

func mustListGrants(t *testing.T, s storage.Store, userID string) []storage.AppGrant {
	t.Helper()
	gs, err := s.ListAppGrants(t.Context(), userID)
	checkErr(t, "ListAppGrants", err, nil)
	return gs
}

func grantIDs(gs []storage.AppGrant) []string {
	out := make([]string, len(gs))
	for i := range gs {
		out[i] = gs[i].ID
	}
	return out
}

func testGrantRoundTrip(t *testing.T, e *env) {
	s := e.store
	want := newGrant(randomID(), now())
	mustCreateGrant(t, s, want)
	checkEqual(t, "GetAppGrant", mustGetGrant(t, s, want.TokenHash), want)

	// No scopes and a set LastUsedAt round-trip too.
	w2 := newGrant(want.UserID, now())
	w2.Scopes = nil
	w2.LastUsedAt = w2.CreatedAt.Add(3 * time.Millisecond)
	mustCreateGrant(t, s, w2)
	got := mustGetGrant(t, s, w2.TokenHash)
	checkEqual(t, "GetAppGrant of a grant without scopes", got, w2)
}

func testGrantGetMissing(t *testing.T, e *env) {
	_, err := e.store.GetAppGrant(t.Context(), randomHash())
	checkErr(t, "GetAppGrant of an unknown hash", err, storage.ErrNotFound)
}

func testGrantDuplicateID(t *testing.T, e *env) {
	s := e.store
	first := newGrant(randomID(), now())
	mustCreateGrant(t, s, first)
	dup := newGrant(randomID(), now())
	dup.ID = first.ID
	checkErr(t, "CreateAppGrant with a used ID", s.CreateAppGrant(t.Context(), dup), storage.ErrConflict)
	checkNoGrant(t, s, dup.TokenHash)
	checkEqual(t, "the first grant after the conflict", mustGetGrant(t, s, first.TokenHash), first)
	if got := mustListGrants(t, s, dup.UserID); len(got) != 0 {
		t.Errorf("ListAppGrants of the conflicting user: got %d grants, want 0", len(got))
	}
}

func testGrantDuplicateTokenHash(t *testing.T, e *env) {
	s := e.store
	first := newGrant(randomID(), now())
	mustCreateGrant(t, s, first)
	dup := newGrant(first.UserID, now())
	dup.TokenHash = first.TokenHash
	dup.AppName = "Impostor"
	checkErr(t, "CreateAppGrant with a used token hash", s.CreateAppGrant(t.Context(), dup), storage.ErrConflict)
	checkEqual(t, "the first grant after the conflict", mustGetGrant(t, s, first.TokenHash), first)
	if got := mustListGrants(t, s, first.UserID); !slices.Equal(grantIDs(got), []string{first.ID}) {
		t.Errorf("ListAppGrants after the conflict: got %v, want [%s]", grantIDs(got), first.ID)
	}
}

func testGrantCopies(t *testing.T, e *env) {
	s := e.store
	want := newGrant(randomID(), now())
	arg := *want
	arg.Scopes = slices.Clone(want.Scopes)
	mustCreateGrant(t, s, &arg)
	arg.Scopes[0] = "admin"
	arg.AppName = "changed"
	checkEqual(t, "GetAppGrant after changing the created value", mustGetGrant(t, s, want.TokenHash), want)

	got := mustGetGrant(t, s, want.TokenHash)
	got.Scopes[0] = "admin"
	got.Scopes = append(got.Scopes, "more")
	checkEqual(t, "GetAppGrant after changing a returned grant", mustGetGrant(t, s, want.TokenHash), want)

	list := mustListGrants(t, s, want.UserID)
	list[0].Scopes[1] = "admin"
	checkEqual(t, "GetAppGrant after changing a listed grant", mustGetGrant(t, s, want.TokenHash), want)

	revoked, err := s.RevokeAppGrant(t.Context(), want.UserID, want.ID)
	checkErr(t, "RevokeAppGrant", err, nil)
	checkEqual(t, "RevokeAppGrant's returned grant", revoked, want)
}

func testGrantListEmpty(t *testing.T, e *env) {
	got, err := e.store.ListAppGrants(t.Context(), randomID())
	checkErr(t, "ListAppGrants of an unknown user", err, nil)
	if len(got) != 0 {
		t.Errorf("ListAppGrants of an unknown user: got %d grants, want 0", len(got))
	}
}

func testGrantList(t *testing.T, e *env) {
	s := e.store
	user, base := randomID(), now()
	g1 := newGrant(user, base)
	g2 := newGrant(user, base.Add(-time.Hour))
	g3 := newGrant(user, base.Add(-2*time.Hour))
	g3.Scopes = []string{"profile"}
	other := newGrant(randomID(), base.Add(time.Hour))
	for _, g := range []*storage.AppGrant{g2, other, g3, g1} {
		mustCreateGrant(t, s, g)
	}
	got := mustListGrants(t, s, user)
	want := []*storage.AppGrant{g1, g2, g3}
	if len(got) != len(want) {
		t.Fatalf("ListAppGrants: got %v, want 3 grants", grantIDs(got))
	}
	for i := range want {
		checkEqual(t, "ListAppGrants element", &got[i], want[i])
	}
}

func testGrantTouch(t *testing.T, e *env) {
	s := e.store
	g := newGrant(randomID(), now())
	mustCreateGrant(t, s, g)
	at := g.CreatedAt.Add(5*time.Minute + 9*time.Millisecond)
	checkErr(t, "TouchAppGrant", s.TouchAppGrant(t.Context(), g.TokenHash, at), nil)
	want := *g
	want.LastUsedAt = at
	checkEqual(t, "GetAppGrant after TouchAppGrant", mustGetGrant(t, s, g.TokenHash), &want)
	at2 := at.Add(time.Hour)
	checkErr(t, "a second TouchAppGrant", s.TouchAppGrant(t.Context(), g.TokenHash, at2), nil)
	want.LastUsedAt = at2
	list := mustListGrants(t, s, g.UserID)
	if len(list) != 1 {
		t.Fatalf("ListAppGrants: got %d grants, want 1", len(list))
	}
	checkEqual(t, "ListAppGrants after TouchAppGrant", &list[0], &want)
}

func testGrantTouchMissing(t *testing.T, e *env) {
	s := e.store
	h := randomHash()
	checkErr(t, "TouchAppGrant of an unknown hash", s.TouchAppGrant(t.Context(), h, now()), storage.ErrNotFound)
	checkNoGrant(t, s, h)

	g := newGrant(randomID(), now())
	mustCreateGrant(t, s, g)
	if _, err := s.RevokeAppGrant(t.Context(), g.UserID, g.ID); err != nil {
		t.Fatalf("RevokeAppGrant: got error %v, want nil", err)
	}
	checkErr(t, "TouchAppGrant of a revoked grant", s.TouchAppGrant(t.Context(), g.TokenHash, now()), storage.ErrNotFound)
	checkNoGrant(t, s, g.TokenHash)
}

func testGrantRevoke(t *testing.T, e *env) {
	s := e.store
	g := newGrant(randomID(), now())
	keep := newGrant(g.UserID, now().Add(-time.Minute))
	mustCreateGrant(t, s, g)
	mustCreateGrant(t, s, keep)
	got, err := s.RevokeAppGrant(t.Context(), g.UserID, g.ID)
	checkErr(t, "RevokeAppGrant", err, nil)
	checkEqual(t, "RevokeAppGrant's returned grant", got, g)
	checkNoGrant(t, s, g.TokenHash)
	if list := mustListGrants(t, s, g.UserID); !slices.Equal(grantIDs(list), []string{keep.ID}) {
		t.Errorf("ListAppGrants after RevokeAppGrant: got %v, want [%s]", grantIDs(list), keep.ID)
	}
	_, err = s.RevokeAppGrant(t.Context(), g.UserID, g.ID)
	checkErr(t, "a second RevokeAppGrant", err, storage.ErrNotFound)
	_, err = s.RevokeAppGrant(t.Context(), g.UserID, randomID())
	checkErr(t, "RevokeAppGrant of an unknown ID", err, storage.ErrNotFound)

	// The revoked grant's keys are free again.
	again := newGrant(g.UserID, now())
	again.ID, again.TokenHash = g.ID, g.TokenHash
	mustCreateGrant(t, s, again)
	checkEqual(t, "GetAppGrant of the re-created grant", mustGetGrant(t, s, g.TokenHash), again)
}

func testGrantRevokeOtherUser(t *testing.T, e *env) {
	s := e.store
	victim := newGrant(randomID(), now())
	mustCreateGrant(t, s, victim)
	attacker := randomID()
	mustCreateGrant(t, s, newGrant(attacker, now()))
	got, err := s.RevokeAppGrant(t.Context(), attacker, victim.ID)
	if err == nil {
		t.Fatalf("RevokeAppGrant of another user's grant: got %+v, nil; want ErrNotFound", got)
	}
	checkErr(t, "RevokeAppGrant of another user's grant", err, storage.ErrNotFound)
	checkEqual(t, "the other user's grant", mustGetGrant(t, s, victim.TokenHash), victim)
}

func testGrantRevokeUser(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	var mine []*storage.AppGrant
	for range 4 {
		g := newGrant(user, now())
		mustCreateGrant(t, s, g)
		mine = append(mine, g)
	}
	theirs := newGrant(randomID(), now())
	mustCreateGrant(t, s, theirs)
	n, err := s.RevokeUserAppGrants(t.Context(), user)
	checkErr(t, "RevokeUserAppGrants", err, nil)
	if n != len(mine) {
		t.Errorf("RevokeUserAppGrants: got %d, want %d", n, len(mine))
	}
	for _, g := range mine {
		checkNoGrant(t, s, g.TokenHash)
	}
	if got := mustListGrants(t, s, user); len(got) != 0 {
		t.Errorf("ListAppGrants after RevokeUserAppGrants: got %d grants, want 0", len(got))
	}
	checkEqual(t, "another user's grant", mustGetGrant(t, s, theirs.TokenHash), theirs)
	n, err = s.RevokeUserAppGrants(t.Context(), user)
	checkErr(t, "a second RevokeUserAppGrants", err, nil)
	if n != 0 {
		t.Errorf("a second RevokeUserAppGrants: got %d, want 0", n)
	}
	// The revoked IDs are free again.
	again := newGrant(user, now())
	again.ID = mine[0].ID
	mustCreateGrant(t, s, again)
}
