package postgres_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// TestSweepDeletesExpiredThrottles checks that the background sweep
// deletes a throttle row once it expired, and keeps a live lockout and a
// permanent lock: rows go, they do not merely read as zero.
func TestSweepDeletesExpiredThrottles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base := time.Now().Truncate(time.Microsecond)
	var clock atomicTime
	clock.Store(base)
	s := f.store(t, postgres.Options{SweepInterval: 10 * time.Millisecond, Now: clock.Load}, nil)
	ctx := t.Context()
	policies := map[string]storage.AttemptPolicy{
		"expiring":   {FreeAttempts: 1, BaseLockout: time.Minute, MaxLockout: time.Minute, MaxFailures: 10, Retention: storage.ThrottleRetention},
		"locked":     {FreeAttempts: 1, BaseLockout: 48 * time.Hour, MaxLockout: 48 * time.Hour, MaxFailures: 10, Retention: storage.ThrottleRetention},
		"unretained": {FreeAttempts: 1, BaseLockout: time.Minute, MaxLockout: time.Minute, MaxFailures: 10},
		"permanent":  {FreeAttempts: 5, BaseLockout: time.Minute, MaxLockout: time.Minute, MaxFailures: 1, Retention: storage.ThrottleRetention},
	}
	for user, p := range policies {
		if _, err := s.ReserveAttempt(ctx, user, base, p); err != nil {
			t.Fatalf("ReserveAttempt(%s): got error %v, want nil", user, err)
		}
	}
	table := pgx.Identifier{f.schema, "attempt_throttles"}.Sanitize()
	has := func(user string) bool {
		return adminQueryInt(t, f.url, `SELECT count(*) FROM `+table+` WHERE user_id = $1`, user) == 1
	}
	clock.Store(base.Add(storage.ThrottleRetention - time.Second))
	time.Sleep(100 * time.Millisecond) // a few sweeps
	if !has("expiring") {
		t.Fatal("row within the retention: got swept, want kept")
	}
	clock.Store(base.Add(storage.ThrottleRetention))
	waitFor(t, "the sweep to delete the expired throttle row", func() bool { return !has("expiring") })
	for _, user := range []string{"locked", "permanent", "unretained"} {
		if !has(user) {
			t.Errorf("%s row after the sweep: got swept, want kept", user)
		}
	}
}

// atomicTime is a clock tests set while the store's sweep reads it.
type atomicTime struct{ ns atomic.Int64 }

func (a *atomicTime) Store(t time.Time) { a.ns.Store(t.UnixNano()) }
func (a *atomicTime) Load() time.Time   { return time.Unix(0, a.ns.Load()) }
