package memory

import (
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// TestSweepRemovesExpiredThrottles checks that the background sweep
// deletes a throttle record once it expired, and keeps a live lockout and a
// permanent lock: the map shrinks, it does not merely read as zero.
func TestSweepRemovesExpiredThrottles(t *testing.T) {
	t.Parallel()
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	now := base
	s := New(Options{SweepInterval: time.Millisecond, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	defer s.Close()
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
	has := func(user string) bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		_, ok := s.throttles[user]
		return ok
	}
	// A day less a second after the attempt, nothing has expired.
	mu.Lock()
	now = base.Add(storage.ThrottleRetention - time.Second)
	mu.Unlock()
	time.Sleep(20 * time.Millisecond) // sweeps run every millisecond
	if !has("expiring") {
		t.Fatal("record within the retention: got swept, want kept")
	}
	mu.Lock()
	now = base.Add(storage.ThrottleRetention)
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for has("expiring") {
		if time.Now().After(deadline) {
			t.Fatal("expired record 5s after the clock passed its expiry: got kept, want swept")
		}
		time.Sleep(time.Millisecond) // polling for the background sweep
	}
	for _, user := range []string{"locked", "permanent", "unretained"} {
		if !has(user) {
			t.Errorf("%s record after the sweep: got swept, want kept", user)
		}
	}
}
