package storagetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func totpCases() []testCase {
	return []testCase{
		{"GetMissingReturnsNotFound", testTOTPGetMissing},
		{"PutPendingRoundTripsAndIgnoresConfirmed", testTOTPPutPending},
		{"PutPendingReplacesAPendingOne", testTOTPPutPendingReplaces},
		{"PutPendingOverConfirmedConflictsAndChangesNothing", testTOTPPutPendingConfirmed},
		{"ConfirmMarksConfirmedWithStepAndTime", testTOTPConfirm},
		{"ConfirmTwiceReturnsNotFound", testTOTPConfirmTwice},
		{"ConfirmWithoutCredentialReturnsNotFound", testTOTPConfirmMissing},
		{"AcceptStepRequiresAStrictlyNewerStep", testTOTPAcceptStep},
		{"AcceptStepWithoutConfirmedCredentialReturnsNotFound", testTOTPAcceptStepMissing},
		{"UpdateSecretReplacesSecretAndKeyIDOnly", testTOTPUpdateSecret},
		{"UpdateSecretWithoutCredentialReturnsNotFound", testTOTPUpdateSecretMissing},
		{"DeleteRemovesPendingOrConfirmed", testTOTPDelete},
		{"DeleteMissingIsANoOp", testTOTPDeleteMissing},
		{"ValuesAreCopiedInAndOut", testTOTPCopies},
		{"CredentialsArePerUser", testTOTPIsolation},
	}
}

func testTOTPGetMissing(t *testing.T, e *env) {
	_, err := e.store.GetTOTP(t.Context(), randomID())
	checkErr(t, "GetTOTP of an unknown user", err, storage.ErrNotFound)
}

// mustConfirmedTOTP stores a confirmed credential for a new user, with last
// step step, and returns it as GetTOTP should return it.
func mustConfirmedTOTP(t *testing.T, s storage.Store, step int64) *storage.TOTPCredential {
	t.Helper()
	c := newTOTP(randomID(), now())
	checkErr(t, "PutPendingTOTP", s.PutPendingTOTP(t.Context(), c), nil)
	at := c.CreatedAt.Add(40 * time.Second)
	checkErr(t, "ConfirmTOTP", s.ConfirmTOTP(t.Context(), c.UserID, step, at), nil)
	c.Confirmed, c.ConfirmedAt, c.LastStep = true, at, step
	return c
}

func testTOTPPutPending(t *testing.T, e *env) {
	s := e.store
	want := newTOTP(randomID(), now())
	arg := *want
	arg.Secret = slices.Clone(want.Secret)
	arg.Confirmed = true // ignored
	checkErr(t, "PutPendingTOTP", s.PutPendingTOTP(t.Context(), &arg), nil)
	checkEqual(t, "GetTOTP of a pending credential", mustGetTOTP(t, s, want.UserID), want)
}

func testTOTPPutPendingReplaces(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	first := newTOTP(user, now())
	checkErr(t, "PutPendingTOTP", s.PutPendingTOTP(t.Context(), first), nil)
	second := newTOTP(user, now().Add(time.Minute))
	checkErr(t, "PutPendingTOTP over a pending one", s.PutPendingTOTP(t.Context(), second), nil)
	checkEqual(t, "GetTOTP after replacing", mustGetTOTP(t, s, user), second)
}

func testTOTPPutPendingConfirmed(t *testing.T, e *env) {
	s := e.store
	want := mustConfirmedTOTP(t, s, 1000)
	again := newTOTP(want.UserID, now().Add(time.Minute))
	checkErr(t, "PutPendingTOTP over a confirmed one", s.PutPendingTOTP(t.Context(), again), storage.ErrConflict)
	checkEqual(t, "GetTOTP after the conflict", mustGetTOTP(t, s, want.UserID), want)
	// The stored step is intact: the next one is accepted, the same one not.
	checkErr(t, "AcceptTOTPStep of the stored step", s.AcceptTOTPStep(t.Context(), want.UserID, 1000), storage.ErrStaleStep)
	checkErr(t, "AcceptTOTPStep of the next step", s.AcceptTOTPStep(t.Context(), want.UserID, 1001), nil)
}

func testTOTPConfirm(t *testing.T, e *env) {
	s := e.store
	c := newTOTP(randomID(), now())
	checkErr(t, "PutPendingTOTP", s.PutPendingTOTP(t.Context(), c), nil)
	at := c.CreatedAt.Add(75*time.Second + 250*time.Millisecond)
	const step = 58_000_123
	checkErr(t, "ConfirmTOTP", s.ConfirmTOTP(t.Context(), c.UserID, step, at), nil)
	want := *c
	want.Confirmed, want.ConfirmedAt, want.LastStep = true, at, step
	checkEqual(t, "GetTOTP after ConfirmTOTP", mustGetTOTP(t, s, c.UserID), &want)
	// The confirming step is used: a replay of it is refused.
	checkErr(t, "AcceptTOTPStep of the confirming step", s.AcceptTOTPStep(t.Context(), c.UserID, step), storage.ErrStaleStep)
}

func testTOTPConfirmTwice(t *testing.T, e *env) {
	s := e.store
	want := mustConfirmedTOTP(t, s, 500)
	later := want.ConfirmedAt.Add(time.Hour)
	checkErr(t, "a second ConfirmTOTP", s.ConfirmTOTP(t.Context(), want.UserID, 900, later), storage.ErrNotFound)
	checkEqual(t, "GetTOTP after the second ConfirmTOTP", mustGetTOTP(t, s, want.UserID), want)
}

func testTOTPConfirmMissing(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	checkErr(t, "ConfirmTOTP without credential", s.ConfirmTOTP(t.Context(), user, 1, now()), storage.ErrNotFound)
	_, err := s.GetTOTP(t.Context(), user)
	checkErr(t, "GetTOTP after ConfirmTOTP without credential", err, storage.ErrNotFound)
}

func testTOTPAcceptStep(t *testing.T, e *env) {
	s := e.store
	c := mustConfirmedTOTP(t, s, 100)
	steps := []struct {
		name    string
		step    int64
		wantErr error
		wantMax int64
	}{
		{"the same step as the confirmation is a replay", 100, storage.ErrStaleStep, 100},
		{"an older step is a replay", 99, storage.ErrStaleStep, 100},
		{"the next step is accepted", 101, nil, 101},
		{"that step again is a replay", 101, storage.ErrStaleStep, 101},
		{"a step far ahead is accepted", 1_000_000, nil, 1_000_000},
		{"a step between is now a replay", 500, storage.ErrStaleStep, 1_000_000},
		{"step zero is a replay", 0, storage.ErrStaleStep, 1_000_000},
		{"a negative step is a replay", -1, storage.ErrStaleStep, 1_000_000},
	}
	for _, st := range steps {
		err := s.AcceptTOTPStep(t.Context(), c.UserID, st.step)
		checkErr(t, st.name, err, st.wantErr)
		got := mustGetTOTP(t, s, c.UserID)
		if got.LastStep != st.wantMax {
			t.Fatalf("%s: got LastStep %d, want %d", st.name, got.LastStep, st.wantMax)
		}
		want := *c
		want.LastStep = st.wantMax
		checkEqual(t, st.name, got, &want)
	}
}

func testTOTPAcceptStepMissing(t *testing.T, e *env) {
	s := e.store
	checkErr(t, "AcceptTOTPStep without credential", s.AcceptTOTPStep(t.Context(), randomID(), 1), storage.ErrNotFound)

	pending := newTOTP(randomID(), now())
	checkErr(t, "PutPendingTOTP", s.PutPendingTOTP(t.Context(), pending), nil)
	checkErr(t, "AcceptTOTPStep on a pending credential", s.AcceptTOTPStep(t.Context(), pending.UserID, 1), storage.ErrNotFound)
	checkEqual(t, "GetTOTP of the pending credential", mustGetTOTP(t, s, pending.UserID), pending)
}

func testTOTPUpdateSecret(t *testing.T, e *env) {
	s := e.store
	c := mustConfirmedTOTP(t, s, 77)
	secret := randomBytes(60)
	checkErr(t, "UpdateTOTPSecret", s.UpdateTOTPSecret(t.Context(), c.UserID, secret, "key-2"), nil)
	want := *c
	want.Secret, want.KeyID = secret, "key-2"
	checkEqual(t, "GetTOTP after UpdateTOTPSecret", mustGetTOTP(t, s, c.UserID), &want)
	checkErr(t, "AcceptTOTPStep after UpdateTOTPSecret", s.AcceptTOTPStep(t.Context(), c.UserID, 77), storage.ErrStaleStep)

	// A pending credential can be re-encrypted as well.
	p := newTOTP(randomID(), now())
	checkErr(t, "PutPendingTOTP", s.PutPendingTOTP(t.Context(), p), nil)
	secret2 := randomBytes(44)
	checkErr(t, "UpdateTOTPSecret of a pending credential", s.UpdateTOTPSecret(t.Context(), p.UserID, secret2, "key-3"), nil)
	wantP := *p
	wantP.Secret, wantP.KeyID = secret2, "key-3"
	checkEqual(t, "GetTOTP of the pending credential", mustGetTOTP(t, s, p.UserID), &wantP)
}

func testTOTPUpdateSecretMissing(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	checkErr(t, "UpdateTOTPSecret without credential", s.UpdateTOTPSecret(t.Context(), user, randomBytes(40), "k"), storage.ErrNotFound)
	_, err := s.GetTOTP(t.Context(), user)
	checkErr(t, "GetTOTP after UpdateTOTPSecret without credential", err, storage.ErrNotFound)
}

func testTOTPDelete(t *testing.T, e *env) {
	s := e.store
	c := mustConfirmedTOTP(t, s, 10)
	checkErr(t, "DeleteTOTP of a confirmed credential", s.DeleteTOTP(t.Context(), c.UserID), nil)
	_, err := s.GetTOTP(t.Context(), c.UserID)
	checkErr(t, "GetTOTP after DeleteTOTP", err, storage.ErrNotFound)
	checkErr(t, "AcceptTOTPStep after DeleteTOTP", s.AcceptTOTPStep(t.Context(), c.UserID, 11), storage.ErrNotFound)

	// Re-enrolling is possible after disabling.
	p := newTOTP(c.UserID, now())
	checkErr(t, "PutPendingTOTP after DeleteTOTP", s.PutPendingTOTP(t.Context(), p), nil)
	checkEqual(t, "GetTOTP after re-enrolling", mustGetTOTP(t, s, c.UserID), p)
	checkErr(t, "DeleteTOTP of a pending credential", s.DeleteTOTP(t.Context(), c.UserID), nil)
	_, err = s.GetTOTP(t.Context(), c.UserID)
	checkErr(t, "GetTOTP after deleting a pending credential", err, storage.ErrNotFound)
}

func testTOTPDeleteMissing(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	checkErr(t, "DeleteTOTP without credential", s.DeleteTOTP(t.Context(), user), nil)
	checkErr(t, "a second DeleteTOTP", s.DeleteTOTP(t.Context(), user), nil)
	_, err := s.GetTOTP(t.Context(), user)
	checkErr(t, "GetTOTP after DeleteTOTP", err, storage.ErrNotFound)
}

func testTOTPCopies(t *testing.T, e *env) {
	s := e.store
	want := newTOTP(randomID(), now())
	arg := *want
	arg.Secret = slices.Clone(want.Secret)
	checkErr(t, "PutPendingTOTP", s.PutPendingTOTP(t.Context(), &arg), nil)
	arg.Secret[0] ^= 0xff
	arg.KeyID = "changed"
	checkEqual(t, "GetTOTP after changing the stored argument", mustGetTOTP(t, s, want.UserID), want)

	got := mustGetTOTP(t, s, want.UserID)
	got.Secret[0] ^= 0xff
	got.Confirmed = true
	checkEqual(t, "GetTOTP after changing a returned credential", mustGetTOTP(t, s, want.UserID), want)

	secret := randomBytes(32)
	stored := bytes.Clone(secret)
	checkErr(t, "UpdateTOTPSecret", s.UpdateTOTPSecret(t.Context(), want.UserID, secret, "k2"), nil)
	secret[0] ^= 0xff
	if got := mustGetTOTP(t, s, want.UserID); !bytes.Equal(got.Secret, stored) {
		t.Errorf("GetTOTP after changing the slice given to UpdateTOTPSecret: got secret %x, want %x", got.Secret, stored)
	}
}

func testTOTPIsolation(t *testing.T, e *env) {
	s := e.store
	a := mustConfirmedTOTP(t, s, 100)
	b := newTOTP(randomID(), now())
	checkErr(t, "PutPendingTOTP", s.PutPendingTOTP(t.Context(), b), nil)
	// b is pending: accepting steps for b fails, and does not touch a.
	checkErr(t, "AcceptTOTPStep of the pending user", s.AcceptTOTPStep(t.Context(), b.UserID, 200), storage.ErrNotFound)
	checkErr(t, "ConfirmTOTP of the pending user", s.ConfirmTOTP(t.Context(), b.UserID, 50, now()), nil)
	checkErr(t, "AcceptTOTPStep of the first user", s.AcceptTOTPStep(t.Context(), a.UserID, 101), nil)
	checkErr(t, "AcceptTOTPStep of the second user", s.AcceptTOTPStep(t.Context(), b.UserID, 51), nil)
	checkErr(t, "DeleteTOTP of the second user", s.DeleteTOTP(t.Context(), b.UserID), nil)
	want := *a
	want.LastStep = 101
	checkEqual(t, "GetTOTP of the first user", mustGetTOTP(t, s, a.UserID), &want)
}
