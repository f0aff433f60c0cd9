package storagetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func passkeyCases() []testCase {
	return []testCase{
		{"RoundTrip", testPasskeyRoundTrip},
		{"DuplicateIDOrCredentialIDConflicts", testPasskeyDuplicate},
		{"ListIsOldestFirstAndPerUser", testPasskeyList},
		{"UnknownOrAnotherUsersIsNotFound", testPasskeyOtherUser},
		{"UseNeedsAGreaterCounter", testPasskeyCounter},
		{"ZeroCountersAreAllowed", testPasskeyZeroCounter},
		{"ConcurrentUsesWithOneCounterOneWins", testPasskeyConcurrentUse},
		{"RenameAndDelete", testPasskeyRenameDelete},
		{"ChallengeIsSingleUse", testPasskeyChallengeSingleUse},
		{"ExpiredChallengeIsNotFound", testPasskeyChallengeExpired},
		{"ConcurrentTakesOneWins", testPasskeyChallengeConcurrentTake},
	}
}

func newPasskey(userID string, created time.Time) *storage.Passkey {
	return &storage.Passkey{
		ID: randomID(), UserID: userID, CredentialID: randomBytes(32), Name: "YubiKey 5C",
		Data: []byte(`{"publicKey":"pQECAyYgASFYIA"}`), SignCount: 5, BackupEligible: true, BackupState: true,
		CreatedAt: created,
	}
}

func mustCreatePasskey(t *testing.T, s storage.Store, p *storage.Passkey) {
	t.Helper()
	checkErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), p), nil)
}

func mustGetPasskey(t *testing.T, s storage.Store, credID []byte) *storage.Passkey {
	t.Helper()
	p, err := s.GetPasskeyByCredentialID(t.Context(), credID)
	checkErr(t, "GetPasskeyByCredentialID", err, nil)
	return p
}

func testPasskeyRoundTrip(t *testing.T, e *env) {
	want := newPasskey(randomID(), now())
	mustCreatePasskey(t, e.store, want)
	for _, c := range e.clients() {
		checkEqual(t, "GetPasskeyByCredentialID", mustGetPasskey(t, c, want.CredentialID), want)
	}
	list, err := e.store.ListPasskeys(t.Context(), want.UserID)
	checkErr(t, "ListPasskeys", err, nil)
	if len(list) != 1 {
		t.Fatalf("ListPasskeys: got %d, want 1", len(list))
	}
	checkEqual(t, "ListPasskeys[0]", &list[0], want)
	// Flags off and no data round-trip too.
	bare := newPasskey(want.UserID, now())
	bare.BackupEligible, bare.BackupState, bare.SignCount, bare.Data = false, false, 0, nil
	mustCreatePasskey(t, e.store, bare)
	checkEqual(t, "a passkey without flags", mustGetPasskey(t, e.store, bare.CredentialID), bare)
	_, err = e.store.GetPasskeyByCredentialID(t.Context(), randomBytes(32))
	checkErr(t, "GetPasskeyByCredentialID of an unknown ID", err, storage.ErrNotFound)
}

func testPasskeyDuplicate(t *testing.T, e *env) {
	s := e.store
	first := newPasskey(randomID(), now())
	mustCreatePasskey(t, s, first)
	sameID := newPasskey(randomID(), now())
	sameID.ID = first.ID
	checkErr(t, "CreatePasskey with a used ID", s.CreatePasskey(t.Context(), sameID), storage.ErrConflict)
	sameCred := newPasskey(randomID(), now())
	sameCred.CredentialID = first.CredentialID
	checkErr(t, "CreatePasskey with a used credential ID", s.CreatePasskey(t.Context(), sameCred), storage.ErrConflict)
	checkEqual(t, "the first passkey after the conflicts", mustGetPasskey(t, s, first.CredentialID), first)
}

func testPasskeyList(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	var want []string
	for i := range 3 {
		p := newPasskey(user, now().Add(time.Duration(i)*time.Second))
		mustCreatePasskey(t, s, p)
		want = append(want, p.ID)
	}
	mustCreatePasskey(t, s, newPasskey(randomID(), now()))
	list, err := s.ListPasskeys(t.Context(), user)
	checkErr(t, "ListPasskeys", err, nil)
	var got []string
	for _, p := range list {
		got = append(got, p.ID)
	}
	checkEqual(t, "ListPasskeys", struct{ IDs []string }{got}, struct{ IDs []string }{want})
	empty, err := s.ListPasskeys(t.Context(), randomID())
	checkErr(t, "ListPasskeys of a user without any", err, nil)
	if len(empty) != 0 {
		t.Errorf("ListPasskeys of a user without any: got %d, want 0", len(empty))
	}
}

func testPasskeyOtherUser(t *testing.T, e *env) {
	s := e.store
	p := newPasskey(randomID(), now())
	mustCreatePasskey(t, s, p)
	for _, user := range []string{randomID(), p.UserID} {
		id := p.ID
		if user == p.UserID {
			id = randomID()
		}
		checkErr(t, "RecordPasskeyUse", s.RecordPasskeyUse(t.Context(), user, id, 9, false, now()), storage.ErrNotFound)
		checkErr(t, "RenamePasskey", s.RenamePasskey(t.Context(), user, id, "mine"), storage.ErrNotFound)
		checkErr(t, "DeletePasskey", s.DeletePasskey(t.Context(), user, id), storage.ErrNotFound)
	}
	checkEqual(t, "the passkey after the attempts", mustGetPasskey(t, s, p.CredentialID), p)
}

func testPasskeyCounter(t *testing.T, e *env) {
	s := e.store
	p := newPasskey(randomID(), now())
	mustCreatePasskey(t, s, p)
	for _, n := range []uint32{5, 4, 0} {
		checkErr(t, "RecordPasskeyUse with a counter that did not increase", s.RecordPasskeyUse(t.Context(), p.UserID, p.ID, n, false, now()), storage.ErrConflict)
	}
	checkEqual(t, "the passkey after refused uses", mustGetPasskey(t, s, p.CredentialID), p)
	at := now().Add(time.Minute)
	checkErr(t, "RecordPasskeyUse", s.RecordPasskeyUse(t.Context(), p.UserID, p.ID, 6, false, at), nil)
	p.SignCount, p.BackupState, p.LastUsedAt = 6, false, at
	checkEqual(t, "the passkey after a use", mustGetPasskey(t, s, p.CredentialID), p)
}

func testPasskeyZeroCounter(t *testing.T, e *env) {
	s := e.store
	p := newPasskey(randomID(), now())
	p.SignCount = 0
	mustCreatePasskey(t, s, p)
	for range 2 {
		checkErr(t, "RecordPasskeyUse of an authenticator without a counter", s.RecordPasskeyUse(t.Context(), p.UserID, p.ID, 0, true, now()), nil)
	}
}

func testPasskeyConcurrentUse(t *testing.T, e *env) {
	p := newPasskey(randomID(), now())
	mustCreatePasskey(t, e.store, p)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		c := e.clients()[i%len(e.clients())]
		wg.Go(func() {
			if c.RecordPasskeyUse(t.Context(), p.UserID, p.ID, 6, true, now()) == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("concurrent uses with counter 6: got %d successes, want 1", n)
	}
}

func testPasskeyRenameDelete(t *testing.T, e *env) {
	s := e.store
	p := newPasskey(randomID(), now())
	mustCreatePasskey(t, s, p)
	checkErr(t, "RenamePasskey", s.RenamePasskey(t.Context(), p.UserID, p.ID, "Phone"), nil)
	p.Name = "Phone"
	checkEqual(t, "after RenamePasskey", mustGetPasskey(t, s, p.CredentialID), p)
	checkErr(t, "DeletePasskey", s.DeletePasskey(t.Context(), p.UserID, p.ID), nil)
	_, err := s.GetPasskeyByCredentialID(t.Context(), p.CredentialID)
	checkErr(t, "GetPasskeyByCredentialID after DeletePasskey", err, storage.ErrNotFound)
}

func newPasskeyChallenge(expires time.Time) *storage.PasskeyChallenge {
	return &storage.PasskeyChallenge{ID: randomID(), UserID: randomID(), Kind: "login", Data: []byte(`{"challenge":"abc"}`), ExpiresAt: expires}
}

func testPasskeyChallengeSingleUse(t *testing.T, e *env) {
	s := e.store
	c := newPasskeyChallenge(now().Add(time.Minute))
	checkErr(t, "PutPasskeyChallenge", s.PutPasskeyChallenge(t.Context(), c), nil)
	checkErr(t, "PutPasskeyChallenge with a used ID", s.PutPasskeyChallenge(t.Context(), c), storage.ErrConflict)
	got, err := s.TakePasskeyChallenge(t.Context(), c.ID, now())
	checkErr(t, "TakePasskeyChallenge", err, nil)
	checkEqual(t, "TakePasskeyChallenge", got, c)
	_, err = s.TakePasskeyChallenge(t.Context(), c.ID, now())
	checkErr(t, "TakePasskeyChallenge again", err, storage.ErrNotFound)
}

func testPasskeyChallengeExpired(t *testing.T, e *env) {
	s := e.store
	c := newPasskeyChallenge(now().Add(time.Minute))
	checkErr(t, "PutPasskeyChallenge", s.PutPasskeyChallenge(t.Context(), c), nil)
	other := newPasskeyChallenge(now().Add(time.Hour))
	checkErr(t, "PutPasskeyChallenge", s.PutPasskeyChallenge(t.Context(), other), nil)
	_, err := s.TakePasskeyChallenge(t.Context(), c.ID, c.ExpiresAt)
	checkErr(t, "TakePasskeyChallenge at its expiry", err, storage.ErrNotFound)
	_, err = s.TakePasskeyChallenge(t.Context(), other.ID, now())
	checkErr(t, "TakePasskeyChallenge of an unexpired one after housekeeping", err, nil)
}

func testPasskeyChallengeConcurrentTake(t *testing.T, e *env) {
	c := newPasskeyChallenge(now().Add(time.Minute))
	checkErr(t, "PutPasskeyChallenge", e.store.PutPasskeyChallenge(t.Context(), c), nil)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		s := e.clients()[i%len(e.clients())]
		wg.Go(func() {
			if _, err := s.TakePasskeyChallenge(t.Context(), c.ID, now()); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("concurrent takes: got %d successes, want 1", n)
	}
}
