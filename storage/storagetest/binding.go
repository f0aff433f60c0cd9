package storagetest

import (
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func bindingCases() []testCase {
	return []testCase{
		{"GetMissingReturnsNotFound", testBindingGetMissing},
		{"PutRoundTrips", testBindingRoundTrip},
		{"PutReplacesTheSessionsBinding", testBindingReplace},
		{"AnotherUsersHandleIsNotFound", testBindingIsolation},
		{"DeleteOneEndsItAndItsChallenges", testBindingDeleteOne},
		{"DeleteAllButOneKeepsThatOne", testBindingDeleteExcept},
		{"ChallengeIsUsedOnce", testChallengeOnce},
		{"ChallengeOfAnotherSessionIsNotFound", testChallengeForeign},
		{"ExpiredChallengeIsNotFound", testChallengeExpired},
		{"DuplicateChallengeConflicts", testChallengeDuplicate},
		{"ConcurrentUsesOfOneChallengeSucceedOnce", testChallengeRace},
		{"ASessionKeepsItsMostRecentChallenges", testChallengeLimit},
	}
}

func newBinding(userID string) *storage.DeviceBinding {
	at := now()
	return &storage.DeviceBinding{
		UserID: userID, SessionHandle: randomID(), ID: randomID(),
		PublicKey:  []byte(`{"kty":"EC","crv":"P-256","x":"` + randomID() + `","y":"` + randomID() + `"}`),
		Thumbprint: randomID(), CreatedAt: at, ExpiresAt: at.Add(time.Hour),
	}
}

func newChallenge(userID, handle string) *storage.BindingChallenge {
	return &storage.BindingChallenge{UserID: userID, SessionHandle: handle, Value: randomID(), Authorization: randomID(), ExpiresAt: now().Add(time.Minute)}
}

func mustPutBinding(t *testing.T, s storage.Store, b *storage.DeviceBinding) {
	t.Helper()
	checkErr(t, "PutDeviceBinding", s.PutDeviceBinding(t.Context(), b), nil)
}

func testBindingGetMissing(t *testing.T, e *env) {
	_, err := e.store.GetDeviceBinding(t.Context(), randomID(), randomID())
	checkErr(t, "GetDeviceBinding of an unknown session", err, storage.ErrNotFound)
}

func testBindingRoundTrip(t *testing.T, e *env) {
	want := newBinding(randomID())
	mustPutBinding(t, e.store, want)
	got, err := e.store.GetDeviceBinding(t.Context(), want.UserID, want.SessionHandle)
	checkErr(t, "GetDeviceBinding", err, nil)
	checkEqual(t, "GetDeviceBinding", got, want)
	got.PublicKey[0] = 'X' // returned values are copies
	again, _ := e.store.GetDeviceBinding(t.Context(), want.UserID, want.SessionHandle)
	checkEqual(t, "GetDeviceBinding after modifying a returned value", again, want)
}

func testBindingReplace(t *testing.T, e *env) {
	first := newBinding(randomID())
	mustPutBinding(t, e.store, first)
	second := newBinding(first.UserID)
	second.SessionHandle = first.SessionHandle
	mustPutBinding(t, e.store, second)
	got, err := e.store.GetDeviceBinding(t.Context(), first.UserID, first.SessionHandle)
	checkErr(t, "GetDeviceBinding", err, nil)
	checkEqual(t, "GetDeviceBinding after a second Put", got, second)
}

func testBindingIsolation(t *testing.T, e *env) {
	b := newBinding(randomID())
	mustPutBinding(t, e.store, b)
	_, err := e.store.GetDeviceBinding(t.Context(), randomID(), b.SessionHandle)
	checkErr(t, "GetDeviceBinding with another user's handle", err, storage.ErrNotFound)
}

func testBindingDeleteOne(t *testing.T, e *env) {
	s := e.store
	b := newBinding(randomID())
	other := newBinding(b.UserID)
	mustPutBinding(t, s, b)
	mustPutBinding(t, s, other)
	c := newChallenge(b.UserID, b.SessionHandle)
	checkErr(t, "AddBindingChallenge", s.AddBindingChallenge(t.Context(), c), nil)
	checkErr(t, "DeleteDeviceBinding", s.DeleteDeviceBinding(t.Context(), b.UserID, b.SessionHandle), nil)
	_, err := s.GetDeviceBinding(t.Context(), b.UserID, b.SessionHandle)
	checkErr(t, "GetDeviceBinding after DeleteDeviceBinding", err, storage.ErrNotFound)
	_, err = s.UseBindingChallenge(t.Context(), c.UserID, c.SessionHandle, c.Value, now())
	checkErr(t, "UseBindingChallenge after DeleteDeviceBinding", err, storage.ErrNotFound)
	_, err = s.GetDeviceBinding(t.Context(), other.UserID, other.SessionHandle)
	checkErr(t, "GetDeviceBinding of the user's other session", err, nil)
	checkErr(t, "DeleteDeviceBinding of a missing binding", s.DeleteDeviceBinding(t.Context(), b.UserID, b.SessionHandle), nil)
}

func testBindingDeleteExcept(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	keep := newBinding(user)
	mustPutBinding(t, s, keep)
	var gone []*storage.DeviceBinding
	for range 3 {
		b := newBinding(user)
		mustPutBinding(t, s, b)
		gone = append(gone, b)
	}
	stranger := newBinding(randomID())
	mustPutBinding(t, s, stranger)
	c := newChallenge(user, gone[0].SessionHandle)
	checkErr(t, "AddBindingChallenge", s.AddBindingChallenge(t.Context(), c), nil)
	n, err := s.DeleteDeviceBindings(t.Context(), user, keep.SessionHandle)
	checkErr(t, "DeleteDeviceBindings", err, nil)
	if n != 3 {
		t.Errorf("DeleteDeviceBindings: got %d deleted, want 3", n)
	}
	for _, b := range gone {
		_, err := s.GetDeviceBinding(t.Context(), user, b.SessionHandle)
		checkErr(t, "GetDeviceBinding of a deleted binding", err, storage.ErrNotFound)
	}
	_, err = s.UseBindingChallenge(t.Context(), user, c.SessionHandle, c.Value, now())
	checkErr(t, "UseBindingChallenge of a deleted binding's challenge", err, storage.ErrNotFound)
	for _, b := range []*storage.DeviceBinding{keep, stranger} {
		_, err := s.GetDeviceBinding(t.Context(), b.UserID, b.SessionHandle)
		checkErr(t, "GetDeviceBinding of a kept binding", err, nil)
	}
	n, err = s.DeleteDeviceBindings(t.Context(), user, "")
	checkErr(t, "DeleteDeviceBindings of all", err, nil)
	if n != 1 {
		t.Errorf("DeleteDeviceBindings of all: got %d deleted, want 1", n)
	}
}

func testChallengeOnce(t *testing.T, e *env) {
	s := e.store
	c := newChallenge(randomID(), randomID())
	checkErr(t, "AddBindingChallenge", s.AddBindingChallenge(t.Context(), c), nil)
	got, err := s.UseBindingChallenge(t.Context(), c.UserID, c.SessionHandle, c.Value, now())
	checkErr(t, "UseBindingChallenge", err, nil)
	checkEqual(t, "UseBindingChallenge", got, c)
	_, err = s.UseBindingChallenge(t.Context(), c.UserID, c.SessionHandle, c.Value, now())
	checkErr(t, "UseBindingChallenge a second time (replay)", err, storage.ErrNotFound)
}

func testChallengeForeign(t *testing.T, e *env) {
	s := e.store
	c := newChallenge(randomID(), randomID())
	checkErr(t, "AddBindingChallenge", s.AddBindingChallenge(t.Context(), c), nil)
	_, err := s.UseBindingChallenge(t.Context(), c.UserID, randomID(), c.Value, now())
	checkErr(t, "UseBindingChallenge for another session", err, storage.ErrNotFound)
	_, err = s.UseBindingChallenge(t.Context(), randomID(), c.SessionHandle, c.Value, now())
	checkErr(t, "UseBindingChallenge for another user", err, storage.ErrNotFound)
	_, err = s.UseBindingChallenge(t.Context(), c.UserID, c.SessionHandle, randomID(), now())
	checkErr(t, "UseBindingChallenge of a value never issued", err, storage.ErrNotFound)
	_, err = s.UseBindingChallenge(t.Context(), c.UserID, c.SessionHandle, c.Value, now())
	checkErr(t, "UseBindingChallenge by its own session after the failed ones", err, nil)
}

func testChallengeExpired(t *testing.T, e *env) {
	s := e.store
	c := newChallenge(randomID(), randomID())
	checkErr(t, "AddBindingChallenge", s.AddBindingChallenge(t.Context(), c), nil)
	_, err := s.UseBindingChallenge(t.Context(), c.UserID, c.SessionHandle, c.Value, c.ExpiresAt)
	checkErr(t, "UseBindingChallenge at its expiry", err, storage.ErrNotFound)
	_, err = s.UseBindingChallenge(t.Context(), c.UserID, c.SessionHandle, c.Value, now())
	checkErr(t, "UseBindingChallenge after an expired use", err, storage.ErrNotFound)
}

func testChallengeDuplicate(t *testing.T, e *env) {
	s := e.store
	c := newChallenge(randomID(), randomID())
	checkErr(t, "AddBindingChallenge", s.AddBindingChallenge(t.Context(), c), nil)
	dup := *c
	dup.Authorization = randomID()
	checkErr(t, "AddBindingChallenge of the same value", s.AddBindingChallenge(t.Context(), &dup), storage.ErrConflict)
	got, err := s.UseBindingChallenge(t.Context(), c.UserID, c.SessionHandle, c.Value, now())
	checkErr(t, "UseBindingChallenge", err, nil)
	checkEqual(t, "UseBindingChallenge after a refused duplicate", got, c)
}

func testChallengeRace(t *testing.T, e *env) {
	c := newChallenge(randomID(), randomID())
	checkErr(t, "AddBindingChallenge", e.store.AddBindingChallenge(t.Context(), c), nil)
	errs := race(e, func(_ int, s storage.Store) error {
		_, err := s.UseBindingChallenge(t.Context(), c.UserID, c.SessionHandle, c.Value, now())
		return err
	})
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			checkErr(t, "a losing UseBindingChallenge", err, storage.ErrNotFound)
		}
	}
	if wins != 1 {
		t.Errorf("concurrent UseBindingChallenge: got %d successes, want 1", wins)
	}
}

func testChallengeLimit(t *testing.T, e *env) {
	s := e.store
	user, handle := randomID(), randomID()
	base := now().Add(time.Minute)
	var all []*storage.BindingChallenge
	for i := range storage.MaxBindingChallenges + 4 {
		c := newChallenge(user, handle)
		c.ExpiresAt = base.Add(time.Duration(i) * time.Second)
		checkErr(t, "AddBindingChallenge", s.AddBindingChallenge(t.Context(), c), nil)
		all = append(all, c)
	}
	other := newChallenge(user, randomID())
	checkErr(t, "AddBindingChallenge for another session", s.AddBindingChallenge(t.Context(), other), nil)
	for i, c := range all {
		_, err := s.UseBindingChallenge(t.Context(), user, handle, c.Value, now())
		if i < 4 {
			checkErr(t, "UseBindingChallenge of a challenge beyond the limit", err, storage.ErrNotFound)
		} else {
			checkErr(t, "UseBindingChallenge of a recent challenge", err, nil)
		}
	}
	_, err := s.UseBindingChallenge(t.Context(), user, other.SessionHandle, other.Value, now())
	checkErr(t, "UseBindingChallenge of another session's challenge after the limit", err, nil)
}
