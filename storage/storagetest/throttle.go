package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func throttleCases() []testCase {
	return []testCase{
		{"GetOfUnknownUserIsZero", testThrottleGetUnknown},
		{"ReserveAppliesAttemptPolicyNext", testThrottleReserve},
		{"ResetClearsFailuresAndLockout", testThrottleReset},
		{"ResetOfUnknownUserIsANoOp", testThrottleResetUnknown},
		{"ThrottlesArePerUser", testThrottleIsolation},
	}
}

func mustGetThrottle(t *testing.T, s storage.Store, userID string) storage.Throttle {
	t.Helper()
	got, err := s.GetThrottle(t.Context(), userID)
	checkErr(t, "GetThrottle", err, nil)
	return got
}

func testThrottleGetUnknown(t *testing.T, e *env) {
	checkEqual(t, "GetThrottle of an unknown user", mustGetThrottle(t, e.store, randomID()), storage.Throttle{})
}

func testThrottleReserve(t *testing.T, e *env) {
	s := e.store
	p := storage.AttemptPolicy{FreeAttempts: 3, BaseLockout: time.Minute, MaxLockout: 4 * time.Minute, MaxFailures: 6}
	user, base := randomID(), now()
	steps := []struct {
		name string
		at   time.Duration // after base
	}{
		{"the first attempt", 0},
		{"the second attempt", 0},
		{"the third attempt starts the base lockout", 250 * time.Millisecond},
		{"an attempt during the lockout", 30 * time.Second},
		{"an attempt a millisecond before the end of the lockout", time.Minute + 250*time.Millisecond - time.Millisecond},
		{"an attempt at the end of the lockout doubles it", time.Minute + 250*time.Millisecond},
		{"an attempt during the doubled lockout", 2 * time.Minute},
		{"the fifth attempt is capped", 10 * time.Minute},
		{"the sixth attempt reaches the hard cap", 20 * time.Minute},
		{"an attempt past every lockout at the hard cap", 2 * time.Hour},
	}
	var model storage.Throttle
	locked := 0
	for _, st := range steps {
		at := base.Add(st.at)
		want, wantErr := p.Next(model, at)
		got, err := s.ReserveAttempt(t.Context(), user, at, p)
		if wantErr != nil {
			locked++
			checkErr(t, st.name, err, storage.ErrLocked)
		} else {
			checkErr(t, st.name, err, nil)
			model = want
		}
		checkEqual(t, st.name+": returned state", got, want)
		checkEqual(t, st.name+": GetThrottle", mustGetThrottle(t, s, user), model)
	}
	// The steps must have exercised both outcomes and the hard cap.
	if locked < 3 || model.Failures != p.MaxFailures {
		t.Fatalf("the suite's steps are wrong: %d refusals, %d failures", locked, model.Failures)
	}
}

func testThrottleReset(t *testing.T, e *env) {
	s := e.store
	p := storage.AttemptPolicy{FreeAttempts: 2, BaseLockout: time.Hour, MaxLockout: time.Hour, MaxFailures: 10}
	user, at := randomID(), now()
	for range 2 {
		if _, err := s.ReserveAttempt(t.Context(), user, at, p); err != nil {
			t.Fatalf("ReserveAttempt: got error %v, want nil", err)
		}
	}
	_, err := s.ReserveAttempt(t.Context(), user, at, p)
	checkErr(t, "ReserveAttempt during a lockout", err, storage.ErrLocked)

	checkErr(t, "ResetAttempts", s.ResetAttempts(t.Context(), user), nil)
	checkEqual(t, "GetThrottle after ResetAttempts", mustGetThrottle(t, s, user), storage.Throttle{})
	got, err := s.ReserveAttempt(t.Context(), user, at, p)
	checkErr(t, "ReserveAttempt after ResetAttempts", err, nil)
	checkEqual(t, "ReserveAttempt after ResetAttempts", got, storage.Throttle{Failures: 1})
}

func testThrottleResetUnknown(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	checkErr(t, "ResetAttempts of an unknown user", s.ResetAttempts(t.Context(), user), nil)
	checkErr(t, "a second ResetAttempts", s.ResetAttempts(t.Context(), user), nil)
	checkEqual(t, "GetThrottle after ResetAttempts", mustGetThrottle(t, s, user), storage.Throttle{})
}

func testThrottleIsolation(t *testing.T, e *env) {
	s := e.store
	p := storage.AttemptPolicy{FreeAttempts: 1, BaseLockout: time.Hour, MaxLockout: time.Hour, MaxFailures: 10}
	alice, bob, at := randomID(), randomID(), now()
	got, err := s.ReserveAttempt(t.Context(), alice, at, p)
	checkErr(t, "ReserveAttempt(alice)", err, nil)
	checkEqual(t, "ReserveAttempt(alice)", got, storage.Throttle{Failures: 1, LockedUntil: at.Add(time.Hour)})
	got, err = s.ReserveAttempt(t.Context(), bob, at, p)
	if errors.Is(err, storage.ErrLocked) {
		t.Fatal("ReserveAttempt(bob): locked by alice's attempt")
	}
	checkErr(t, "ReserveAttempt(bob)", err, nil)
	checkEqual(t, "ReserveAttempt(bob)", got, storage.Throttle{Failures: 1, LockedUntil: at.Add(time.Hour)})
	checkErr(t, "ResetAttempts(bob)", s.ResetAttempts(t.Context(), bob), nil)
	checkEqual(t, "GetThrottle(alice) after resetting bob", mustGetThrottle(t, s, alice), storage.Throttle{Failures: 1, LockedUntil: at.Add(time.Hour)})
}
