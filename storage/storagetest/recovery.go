package storagetest

import (
	"testing"

	"github.com/sessionguard/sessionguard/storage"
)

func recoveryCases() []testCase {
	return []testCase{
		{"CountOfUnknownUserIsZero", testRecoveryCountUnknown},
		{"ReplaceThenCount", testRecoveryReplaceCount},
		{"ConsumeWorksOnce", testRecoveryConsumeOnce},
		{"ConsumeUnknownCodeReturnsNotFound", testRecoveryConsumeUnknown},
		{"ConsumeAnotherUsersCodeReturnsNotFound", testRecoveryConsumeOtherUser},
		{"ReplaceInvalidatesTheOldSet", testRecoveryReplaceInvalidates},
		{"ReplaceWithEmptyRemovesAll", testRecoveryReplaceEmpty},
		{"ReplaceKeepsACopyOfItsArgument", testRecoveryReplaceCopies},
	}
}

func mustReplace(t *testing.T, s storage.Store, userID string, hs []storage.TokenHash) {
	t.Helper()
	checkErr(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(t.Context(), userID, hs), nil)
}

func checkCount(t *testing.T, s storage.Store, what, userID string, want int) {
	t.Helper()
	if got := mustCount(t, s, userID); got != want {
		t.Errorf("%s: got CountRecoveryCodes %d, want %d", what, got, want)
	}
}

func testRecoveryCountUnknown(t *testing.T, e *env) {
	checkCount(t, e.store, "a user without codes", randomID(), 0)
}

func testRecoveryReplaceCount(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	mustReplace(t, s, user, newHashes(10))
	checkCount(t, s, "after storing 10 codes", user, 10)
	checkCount(t, s, "another user", randomID(), 0)
}

func testRecoveryConsumeOnce(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	hs := newHashes(10)
	mustReplace(t, s, user, hs)
	for i, h := range hs {
		checkErr(t, "ConsumeRecoveryCode", s.ConsumeRecoveryCode(t.Context(), user, h), nil)
		checkErr(t, "ConsumeRecoveryCode of a used code", s.ConsumeRecoveryCode(t.Context(), user, h), storage.ErrNotFound)
		checkCount(t, s, "after consuming", user, len(hs)-i-1)
	}
	checkErr(t, "ConsumeRecoveryCode with no codes left", s.ConsumeRecoveryCode(t.Context(), user, hs[0]), storage.ErrNotFound)
}

func testRecoveryConsumeUnknown(t *testing.T, e *env) {
	s := e.store
	checkErr(t, "ConsumeRecoveryCode of a user without codes", s.ConsumeRecoveryCode(t.Context(), randomID(), randomHash()), storage.ErrNotFound)
	user := randomID()
	mustReplace(t, s, user, newHashes(3))
	checkErr(t, "ConsumeRecoveryCode of an unknown code", s.ConsumeRecoveryCode(t.Context(), user, randomHash()), storage.ErrNotFound)
	checkErr(t, "ConsumeRecoveryCode of the zero hash", s.ConsumeRecoveryCode(t.Context(), user, storage.TokenHash{}), storage.ErrNotFound)
	checkCount(t, s, "after failed consumes", user, 3)
}

func testRecoveryConsumeOtherUser(t *testing.T, e *env) {
	s := e.store
	owner, attacker := randomID(), randomID()
	hs := newHashes(2)
	mustReplace(t, s, owner, hs)
	mustReplace(t, s, attacker, newHashes(2))
	checkErr(t, "ConsumeRecoveryCode of another user's code", s.ConsumeRecoveryCode(t.Context(), attacker, hs[0]), storage.ErrNotFound)
	checkCount(t, s, "the owner", owner, 2)
	checkCount(t, s, "the other user", attacker, 2)
	checkErr(t, "ConsumeRecoveryCode by its owner", s.ConsumeRecoveryCode(t.Context(), owner, hs[0]), nil)
}

func testRecoveryReplaceInvalidates(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	old := newHashes(10)
	mustReplace(t, s, user, old)
	checkErr(t, "ConsumeRecoveryCode", s.ConsumeRecoveryCode(t.Context(), user, old[0]), nil)
	fresh := newHashes(8)
	mustReplace(t, s, user, fresh)
	checkCount(t, s, "after replacing", user, 8)
	for _, h := range old[1:] {
		checkErr(t, "ConsumeRecoveryCode of a replaced code", s.ConsumeRecoveryCode(t.Context(), user, h), storage.ErrNotFound)
	}
	checkErr(t, "ConsumeRecoveryCode of a fresh code", s.ConsumeRecoveryCode(t.Context(), user, fresh[7]), nil)
	checkCount(t, s, "after consuming a fresh code", user, 7)
}

func testRecoveryReplaceEmpty(t *testing.T, e *env) {
	s := e.store
	for _, empty := range [][]storage.TokenHash{nil, {}} {
		user := randomID()
		hs := newHashes(4)
		mustReplace(t, s, user, hs)
		mustReplace(t, s, user, empty)
		checkCount(t, s, "after replacing with no codes", user, 0)
		checkErr(t, "ConsumeRecoveryCode after removing all", s.ConsumeRecoveryCode(t.Context(), user, hs[0]), storage.ErrNotFound)
		// And again: removing nothing is fine.
		mustReplace(t, s, user, empty)
		checkCount(t, s, "after replacing with no codes twice", user, 0)
	}
}

func testRecoveryReplaceCopies(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	hs := newHashes(3)
	first := hs[0]
	mustReplace(t, s, user, hs)
	hs[0] = randomHash()
	checkErr(t, "ConsumeRecoveryCode of an entry changed after the call", s.ConsumeRecoveryCode(t.Context(), user, hs[0]), storage.ErrNotFound)
	checkErr(t, "ConsumeRecoveryCode of the stored code", s.ConsumeRecoveryCode(t.Context(), user, first), nil)
}
