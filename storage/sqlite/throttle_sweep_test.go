package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/sqlite"
)

// TestSweepDeletesExpiredThrottles checks that the background sweep
// deletes a throttle row once it expired, and keeps a live lockout and a
// permanent lock: rows go, they do not merely read as zero.
func TestSweepDeletesExpiredThrottles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	base := time.Now().Round(0)
	clk := &clock{t: base}
	s := open(t, path, sqlite.Options{SweepInterval: 10 * time.Millisecond, Now: clk.Now})
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
	raw := rawDB(t, path)
	has := func(user string) bool {
		var n int
		if err := raw.QueryRow(`SELECT count(*) FROM throttle WHERE user_id = ?`, user).Scan(&n); err != nil {
			t.Fatalf("counting throttle rows: got error %v, want nil", err)
		}
		return n == 1
	}
	clk.Set(base.Add(storage.ThrottleRetention - time.Second))
	time.Sleep(50 * time.Millisecond) // a few sweeps
	if !has("expiring") {
		t.Fatal("row within the retention: got swept, want kept")
	}
	clk.Set(base.Add(storage.ThrottleRetention))
	eventually(t, "the expired throttle row is swept", func() bool { return !has("expiring") })
	for _, user := range []string{"locked", "permanent", "unretained"} {
		if !has(user) {
			t.Errorf("%s row after the sweep: got swept, want kept", user)
		}
	}
}
