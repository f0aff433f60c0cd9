package storagetest

import (
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// throttleExpiryCases check the expiry of throttle records (see
// [storage.ThrottleStore]): the backend's clock is the real one here, so
// records are written at instants in the past to be already expired, or
// not, when read and swept now.
func throttleExpiryCases() []testCase {
	return []testCase{
		{"AnExpiredThrottleReadsAsZeroAndIsSwept", testThrottleExpired},
		{"AnExpiredThrottleStartsAfresh", testThrottleExpiredStartsAfresh},
		{"AFailureWithinTheRetentionIsKeptAfterItsLockout", testThrottleRetained},
		{"ALiveLockoutIsKept", testThrottleLiveLockoutKept},
		{"ALockoutLongerThanTheRetentionIsKeptUntilItEnds", testThrottleLongLockoutKept},
		{"APermanentLockNeverExpires", testThrottlePermanentLockKept},
		{"APolicyWithoutRetentionNeverExpires", testThrottleNoRetentionKept},
	}
}

// expiryPolicy locks from the first failure, for a minute.
var expiryPolicy = storage.AttemptPolicy{FreeAttempts: 1, BaseLockout: time.Minute, MaxLockout: time.Hour, MaxFailures: 10, Retention: storage.ThrottleRetention}

func mustReserve(t *testing.T, s storage.Store, user string, at time.Time, p storage.AttemptPolicy) storage.Throttle {
	t.Helper()
	got, err := s.ReserveAttempt(t.Context(), user, at, p)
	checkErr(t, "ReserveAttempt", err, nil)
	return got
}

func mustSweepThrottles(t *testing.T, s storage.Store, at time.Time) {
	t.Helper()
	_, err := s.DeleteExpiredThrottles(t.Context(), at)
	checkErr(t, "DeleteExpiredThrottles", err, nil)
}

func testThrottleExpired(t *testing.T, e *env) {
	s, user := e.store, randomID()
	// Its lockout ended and its failure is more than the retention old.
	mustReserve(t, s, user, now().Add(-storage.ThrottleRetention-time.Hour), expiryPolicy)
	checkEqual(t, "GetThrottle of an expired record", mustGetThrottle(t, s, user), storage.Throttle{})
	mustSweepThrottles(t, s, now())
	checkEqual(t, "GetThrottle after the sweep", mustGetThrottle(t, s, user), storage.Throttle{})
}

func testThrottleExpiredStartsAfresh(t *testing.T, e *env) {
	s, user := e.store, randomID()
	p := storage.AttemptPolicy{FreeAttempts: 2, BaseLockout: time.Minute, MaxLockout: time.Hour, MaxFailures: 10, Retention: storage.ThrottleRetention}
	old := now().Add(-storage.ThrottleRetention - time.Hour)
	mustReserve(t, s, user, old, p)
	mustReserve(t, s, user, old, p) // locked for a minute, expires a day later
	at := now()
	got := mustReserve(t, s, user, at, p)
	checkEqual(t, "ReserveAttempt after the record expired", got, storage.Throttle{Failures: 1})
}

func testThrottleRetained(t *testing.T, e *env) {
	s, user := e.store, randomID()
	at := now().Add(-storage.ThrottleRetention + time.Hour) // lockout over, failure 23 h old
	first := mustReserve(t, s, user, at, expiryPolicy)
	mustSweepThrottles(t, s, now())
	checkEqual(t, "GetThrottle of a retained record after the sweep", mustGetThrottle(t, s, user), first)
	// The backoff goes on: the second failure doubles the lockout.
	at = now()
	got := mustReserve(t, s, user, at, expiryPolicy)
	checkEqual(t, "ReserveAttempt within the retention", got, storage.Throttle{Failures: 2, LockedUntil: at.Add(2 * time.Minute)})
}

func testThrottleLiveLockoutKept(t *testing.T, e *env) {
	s, user := e.store, randomID()
	at := now()
	want := mustReserve(t, s, user, at, expiryPolicy)
	mustSweepThrottles(t, s, at.Add(time.Second))
	checkEqual(t, "GetThrottle of a live lockout after the sweep", mustGetThrottle(t, s, user), want)
	_, err := s.ReserveAttempt(t.Context(), user, at.Add(time.Second), expiryPolicy)
	checkErr(t, "ReserveAttempt during the lockout after the sweep", err, storage.ErrLocked)
}

func testThrottleLongLockoutKept(t *testing.T, e *env) {
	s, user := e.store, randomID()
	p := storage.AttemptPolicy{FreeAttempts: 1, BaseLockout: 3 * storage.ThrottleRetention, MaxLockout: 3 * storage.ThrottleRetention, MaxFailures: 10, Retention: storage.ThrottleRetention}
	// Written 2 days ago: its failure is older than the retention, but it
	// stays locked for one more day.
	want := mustReserve(t, s, user, now().Add(-2*storage.ThrottleRetention), p)
	mustSweepThrottles(t, s, now())
	checkEqual(t, "GetThrottle of a long lockout after the sweep", mustGetThrottle(t, s, user), want)
	_, err := s.ReserveAttempt(t.Context(), user, now(), p)
	checkErr(t, "ReserveAttempt during the long lockout", err, storage.ErrLocked)
}

func testThrottlePermanentLockKept(t *testing.T, e *env) {
	s, user := e.store, randomID()
	p := storage.AttemptPolicy{FreeAttempts: 5, BaseLockout: time.Minute, MaxLockout: time.Hour, MaxFailures: 1, Retention: storage.ThrottleRetention}
	// MaxFailures reached a week ago, without a lockout: refused until reset.
	want := mustReserve(t, s, user, now().Add(-7*storage.ThrottleRetention), p)
	mustSweepThrottles(t, s, now())
	checkEqual(t, "GetThrottle of a permanent lock after the sweep", mustGetThrottle(t, s, user), want)
	_, err := s.ReserveAttempt(t.Context(), user, now(), p)
	checkErr(t, "ReserveAttempt at the permanent lock", err, storage.ErrLocked)
}

func testThrottleNoRetentionKept(t *testing.T, e *env) {
	s, user := e.store, randomID()
	p := expiryPolicy
	p.Retention = 0
	// A failure a week ago, its lockout long over: still counted.
	want := mustReserve(t, s, user, now().Add(-7*storage.ThrottleRetention), p)
	mustSweepThrottles(t, s, now())
	checkEqual(t, "GetThrottle of a record without retention after the sweep", mustGetThrottle(t, s, user), want)
	at := now()
	got := mustReserve(t, s, user, at, p)
	checkEqual(t, "ReserveAttempt a week later", got, storage.Throttle{Failures: 2, LockedUntil: at.Add(2 * time.Minute)})
}
