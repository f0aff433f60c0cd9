package redis_test

import (
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// TestThrottleKeysExpireByTTL checks that each reserved attempt sets its
// throttle key's TTL to the record's expiry, computed from Options.Now, so
// that Redis removes the key itself, and that a permanent lock gets none.
func TestThrottleKeysExpireByTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	ctx := t.Context()
	short := storage.AttemptPolicy{FreeAttempts: 1, BaseLockout: time.Minute, MaxLockout: time.Minute, MaxFailures: 10, Retention: storage.ThrottleRetention}
	long := storage.AttemptPolicy{FreeAttempts: 1, BaseLockout: 48 * time.Hour, MaxLockout: 48 * time.Hour, MaxFailures: 10, Retention: storage.ThrottleRetention}
	permanent := storage.AttemptPolicy{FreeAttempts: 5, BaseLockout: time.Minute, MaxLockout: time.Minute, MaxFailures: 1, Retention: storage.ThrottleRetention}
	now := time.Now()
	tests := []struct {
		name     string
		p        storage.AttemptPolicy
		min, max time.Duration // bounds of the key's PTTL; -1: none
	}{
		{"a failure is kept for the retention", short, storage.ThrottleRetention - time.Minute, storage.ThrottleRetention},
		{"a lockout longer than the retention is kept until it ends", long, 48*time.Hour - time.Minute, 48 * time.Hour},
		{"a permanent lock has no TTL", permanent, -1, -1},
		{"a policy without Retention sets no TTL", storage.AttemptPolicy{FreeAttempts: 1, BaseLockout: time.Minute, MaxLockout: time.Minute, MaxFailures: 10}, -1, -1},
	}
	for _, tt := range tests {
		user := "ttl-" + tt.name
		if _, err := f.store.ReserveAttempt(ctx, user, now, tt.p); err != nil {
			t.Fatalf("%s: ReserveAttempt: got error %v, want nil", tt.name, err)
		}
		got, err := f.raw.PTTL(ctx, f.prefix+"th:"+user).Result()
		if err != nil {
			t.Fatalf("%s: PTTL: got error %v, want nil", tt.name, err)
		}
		if got < tt.min || got > tt.max {
			t.Errorf("%s: PTTL: got %v, want between %v and %v", tt.name, got, tt.min, tt.max)
		}
	}

	// A record written almost a retention ago expires in moments, and
	// Redis removes its key.
	user := "ttl-expiring"
	if _, err := f.store.ReserveAttempt(ctx, user, time.Now().Add(-storage.ThrottleRetention+300*time.Millisecond), short); err != nil {
		t.Fatalf("ReserveAttempt: got error %v, want nil", err)
	}
	key := f.prefix + "th:" + user
	if got := f.raw.PTTL(ctx, key).Val(); got <= 0 || got > 300*time.Millisecond {
		t.Errorf("PTTL of a record expiring in 300 ms: got %v, want between 1 ms and 300 ms", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.raw.Exists(ctx, key).Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the key of an expired throttle record 5 s after its expiry: got kept, want removed by its TTL")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
