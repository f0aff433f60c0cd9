package storagetest

import (
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func trustedBrowserCases() []testCase {
	return []testCase{
		{"RoundTrip", testTrustedRoundTrip},
		{"UnknownIDIsNotFound", testTrustedUnknown},
		{"AnotherUsersRecordIsNotFound", testTrustedOtherUser},
		{"DuplicateIDConflicts", testTrustedDuplicate},
		{"ListIsNewestFirstAndPerUser", testTrustedList},
		{"ListKeepsExpiredRecords", testTrustedListExpired},
		{"TouchSetsLastUsed", testTrustedTouch},
		{"DeleteOneLeavesTheOthers", testTrustedDeleteOne},
		{"DeleteAllCountsAndLeavesOtherUsers", testTrustedDeleteAll},
	}
}

func newTrusted(userID string, created time.Time) *storage.TrustedBrowser {
	return &storage.TrustedBrowser{
		ID: randomID(), UserID: userID,
		CreatedAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour), LastUsedAt: created,
		IP: "203.0.113.7", Device: "Firefox 133 on Linux", Location: "Lisbon, Portugal",
	}
}

func mustTrust(t *testing.T, s storage.Store, b *storage.TrustedBrowser) {
	t.Helper()
	checkErr(t, "CreateTrustedBrowser", s.CreateTrustedBrowser(t.Context(), b), nil)
}

func mustListTrusted(t *testing.T, s storage.Store, userID string) []storage.TrustedBrowser {
	t.Helper()
	list, err := s.ListTrustedBrowsers(t.Context(), userID)
	checkErr(t, "ListTrustedBrowsers", err, nil)
	return list
}

func trustedIDs(list []storage.TrustedBrowser) []string {
	ids := make([]string, len(list))
	for i, b := range list {
		ids[i] = b.ID
	}
	return ids
}

func testTrustedRoundTrip(t *testing.T, e *env) {
	want := newTrusted(randomID(), now())
	mustTrust(t, e.store, want)
	for _, c := range e.clients() {
		got, err := c.GetTrustedBrowser(t.Context(), want.UserID, want.ID)
		checkErr(t, "GetTrustedBrowser", err, nil)
		checkEqual(t, "GetTrustedBrowser", got, want)
	}
	// Empty details round-trip too.
	bare := &storage.TrustedBrowser{ID: randomID(), UserID: want.UserID, CreatedAt: now(), ExpiresAt: now().Add(time.Hour), LastUsedAt: now()}
	mustTrust(t, e.store, bare)
	got, err := e.store.GetTrustedBrowser(t.Context(), bare.UserID, bare.ID)
	checkErr(t, "GetTrustedBrowser of a record without details", err, nil)
	checkEqual(t, "GetTrustedBrowser of a record without details", got, bare)
}

func testTrustedUnknown(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	_, err := s.GetTrustedBrowser(t.Context(), user, randomID())
	checkErr(t, "GetTrustedBrowser of an unknown ID", err, storage.ErrNotFound)
	checkErr(t, "TouchTrustedBrowser of an unknown ID", s.TouchTrustedBrowser(t.Context(), user, randomID(), now()), storage.ErrNotFound)
	checkErr(t, "DeleteTrustedBrowser of an unknown ID", s.DeleteTrustedBrowser(t.Context(), user, randomID()), storage.ErrNotFound)
	if list := mustListTrusted(t, s, user); len(list) != 0 {
		t.Errorf("ListTrustedBrowsers of a user without any: got %d, want 0", len(list))
	}
	if n, err := s.DeleteTrustedBrowsers(t.Context(), user); err != nil || n != 0 {
		t.Errorf("DeleteTrustedBrowsers of a user without any: got %d, %v; want 0, nil", n, err)
	}
}

func testTrustedOtherUser(t *testing.T, e *env) {
	s := e.store
	b := newTrusted(randomID(), now())
	mustTrust(t, s, b)
	other := randomID()
	_, err := s.GetTrustedBrowser(t.Context(), other, b.ID)
	checkErr(t, "GetTrustedBrowser with another user", err, storage.ErrNotFound)
	checkErr(t, "TouchTrustedBrowser with another user", s.TouchTrustedBrowser(t.Context(), other, b.ID, now().Add(time.Second)), storage.ErrNotFound)
	checkErr(t, "DeleteTrustedBrowser with another user", s.DeleteTrustedBrowser(t.Context(), other, b.ID), storage.ErrNotFound)
	got, err := s.GetTrustedBrowser(t.Context(), b.UserID, b.ID)
	checkErr(t, "GetTrustedBrowser after another user's attempts", err, nil)
	checkEqual(t, "the record after another user's attempts", got, b)
}

func testTrustedDuplicate(t *testing.T, e *env) {
	s := e.store
	first := newTrusted(randomID(), now())
	mustTrust(t, s, first)
	dup := newTrusted(randomID(), now())
	dup.ID = first.ID
	checkErr(t, "CreateTrustedBrowser with a used ID", s.CreateTrustedBrowser(t.Context(), dup), storage.ErrConflict)
	got, err := s.GetTrustedBrowser(t.Context(), first.UserID, first.ID)
	checkErr(t, "GetTrustedBrowser after the conflict", err, nil)
	checkEqual(t, "the first record after the conflict", got, first)
	if list := mustListTrusted(t, s, dup.UserID); len(list) != 0 {
		t.Errorf("ListTrustedBrowsers of the conflicting user: got %d, want 0", len(list))
	}
}

func testTrustedList(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	base := now()
	var want []string
	for i := range 3 {
		b := newTrusted(user, base.Add(time.Duration(i)*time.Second))
		mustTrust(t, s, b)
		want = append([]string{b.ID}, want...)
	}
	mustTrust(t, s, newTrusted(randomID(), base))
	checkEqual(t, "ListTrustedBrowsers", struct{ IDs []string }{trustedIDs(mustListTrusted(t, s, user))}, struct{ IDs []string }{want})
}

func testTrustedListExpired(t *testing.T, e *env) {
	s := e.store
	b := newTrusted(randomID(), now().Add(-48*time.Hour))
	b.ExpiresAt = now().Add(-time.Hour)
	mustTrust(t, s, b)
	list := mustListTrusted(t, s, b.UserID)
	if len(list) != 1 {
		t.Fatalf("ListTrustedBrowsers with an expired record: got %d, want 1", len(list))
	}
	checkEqual(t, "the expired record", &list[0], b)
}

func testTrustedTouch(t *testing.T, e *env) {
	s := e.store
	b := newTrusted(randomID(), now())
	mustTrust(t, s, b)
	at := b.CreatedAt.Add(5 * time.Minute)
	checkErr(t, "TouchTrustedBrowser", s.TouchTrustedBrowser(t.Context(), b.UserID, b.ID, at), nil)
	b.LastUsedAt = at
	got, err := s.GetTrustedBrowser(t.Context(), b.UserID, b.ID)
	checkErr(t, "GetTrustedBrowser after Touch", err, nil)
	checkEqual(t, "GetTrustedBrowser after Touch", got, b)
}

func testTrustedDeleteOne(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	a, b := newTrusted(user, now()), newTrusted(user, now().Add(time.Second))
	mustTrust(t, s, a)
	mustTrust(t, s, b)
	checkErr(t, "DeleteTrustedBrowser", s.DeleteTrustedBrowser(t.Context(), user, a.ID), nil)
	_, err := s.GetTrustedBrowser(t.Context(), user, a.ID)
	checkErr(t, "GetTrustedBrowser of the deleted record", err, storage.ErrNotFound)
	checkErr(t, "DeleteTrustedBrowser again", s.DeleteTrustedBrowser(t.Context(), user, a.ID), storage.ErrNotFound)
	checkEqual(t, "ListTrustedBrowsers after deleting one", struct{ IDs []string }{trustedIDs(mustListTrusted(t, s, user))}, struct{ IDs []string }{[]string{b.ID}})
}

func testTrustedDeleteAll(t *testing.T, e *env) {
	s := e.store
	user, other := randomID(), randomID()
	for range 3 {
		mustTrust(t, s, newTrusted(user, now()))
	}
	keep := newTrusted(other, now())
	mustTrust(t, s, keep)
	n, err := s.DeleteTrustedBrowsers(t.Context(), user)
	checkErr(t, "DeleteTrustedBrowsers", err, nil)
	if n != 3 {
		t.Errorf("DeleteTrustedBrowsers: got %d, want 3", n)
	}
	if list := mustListTrusted(t, s, user); len(list) != 0 {
		t.Errorf("ListTrustedBrowsers after DeleteTrustedBrowsers: got %d, want 0", len(list))
	}
	if list := mustListTrusted(t, s, other); len(list) != 1 {
		t.Errorf("another user's records after DeleteTrustedBrowsers: got %d, want 1", len(list))
	}
}
