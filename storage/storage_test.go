package storage_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func TestTokenHashRoundTrip(t *testing.T) {
	t.Parallel()
	h := storage.HashToken([]byte("token"))
	got, err := storage.ParseTokenHash(h.String())
	if err != nil || got != h {
		t.Fatalf("ParseTokenHash(String()) = %v, %v; want %v, nil", got, err, h)
	}
	for _, bad := range []string{"", "zz", h.String()[:10], h.String() + "00", "g" + h.String()[1:]} {
		if _, err := storage.ParseTokenHash(bad); err == nil {
			t.Errorf("ParseTokenHash(%q) succeeded; want error", bad)
		}
	}
	if !(storage.TokenHash{}).IsZero() || h.IsZero() {
		t.Error("IsZero wrong")
	}
}

func TestAttemptPolicyNext(t *testing.T) {
	t.Parallel()
	p := storage.AttemptPolicy{FreeAttempts: 3, BaseLockout: time.Minute, MaxLockout: 4 * time.Minute, MaxFailures: 6}
	now := time.Unix(1_000_000, 0)
	tests := []struct {
		name     string
		in       storage.Throttle
		at       time.Time
		want     storage.Throttle
		wantLock bool
	}{
		{"a first failure is counted without lockout", storage.Throttle{}, now, storage.Throttle{Failures: 1}, false},
		{"the third failure starts the base lockout", storage.Throttle{Failures: 2}, now, storage.Throttle{Failures: 3, LockedUntil: now.Add(time.Minute)}, false},
		{"each further failure doubles the lockout", storage.Throttle{Failures: 3}, now, storage.Throttle{Failures: 4, LockedUntil: now.Add(2 * time.Minute)}, false},
		{"the lockout is capped", storage.Throttle{Failures: 5}, now, storage.Throttle{Failures: 6, LockedUntil: now.Add(4 * time.Minute)}, false},
		{"an attempt during a lockout is refused", storage.Throttle{Failures: 3, LockedUntil: now.Add(time.Second)}, now, storage.Throttle{Failures: 3, LockedUntil: now.Add(time.Second)}, true},
		{"an attempt at the end of a lockout is allowed", storage.Throttle{Failures: 3, LockedUntil: now}, now, storage.Throttle{Failures: 4, LockedUntil: now.Add(2 * time.Minute)}, false},
		{"the hard cap refuses for ever", storage.Throttle{Failures: 6}, now.Add(time.Hour), storage.Throttle{Failures: 6}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Next(tt.in, tt.at)
			if locked := errors.Is(err, storage.ErrLocked); locked != tt.wantLock {
				t.Fatalf("locked = %v, want %v (err %v)", locked, tt.wantLock, err)
			}
			if !got.LockedUntil.Equal(tt.want.LockedUntil) || got.Failures != tt.want.Failures {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAttemptPolicyExpiresAt(t *testing.T) {
	p := storage.AttemptPolicy{FreeAttempts: 3, BaseLockout: time.Minute, MaxLockout: 72 * time.Hour, MaxFailures: 5, Retention: storage.ThrottleRetention}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		t    storage.Throttle
		want time.Time
	}{
		{"a failure without a lockout is kept for the retention", storage.Throttle{Failures: 1}, now.Add(storage.ThrottleRetention)},
		{"a short lockout is kept for the retention", storage.Throttle{Failures: 3, LockedUntil: now.Add(time.Minute)}, now.Add(storage.ThrottleRetention)},
		{"a lockout longer than the retention is kept until it ends", storage.Throttle{Failures: 4, LockedUntil: now.Add(48 * time.Hour)}, now.Add(48 * time.Hour)},
		{"a record at MaxFailures never expires", storage.Throttle{Failures: 5, LockedUntil: now.Add(72 * time.Hour)}, time.Time{}},
	}
	noRetention := p
	noRetention.Retention = 0
	if got := noRetention.ExpiresAt(storage.Throttle{Failures: 1}, now); !got.IsZero() {
		t.Errorf("ExpiresAt under a policy without Retention: got %v, want the zero time (never)", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.ExpiresAt(tt.t, now); !got.Equal(tt.want) {
				t.Errorf("ExpiresAt(%+v): got %v, want %v", tt.t, got, tt.want)
			}
		})
	}
}
