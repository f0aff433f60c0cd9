package session

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// reserve is one attempt on th for username from addr.
func reserve(th *PasswordThrottle, addr, username, userID string) error {
	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr = addr
	return th.Reserve(context.Background(), Audit{Request: r}, username, userID)
}

// TestPasswordThrottlePerAccount: 10 attempts pass, then the account is
// locked (whatever the address) for a minute that doubles; an unknown
// account behaves exactly like a known one; a success resets the count.
func TestPasswordThrottlePerAccount(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := newMemoryStore(t)
	m := newTestManager(t, store, clock, nil)
	th := m.PasswordThrottle()
	for _, tc := range []struct{ name, username, userID string }{
		{"a known account", "alice", "u-alice"},
		{"an unknown account", "nobody", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range DefaultPasswordAccountFreeAttempts {
				// Each from another address: the account counter is what
				// stops them.
				if err := reserve(th, "192.0.2."+itoa(i+1)+":1234", tc.username, tc.userID); err != nil {
					t.Fatalf("attempt %d: got %v, want nil", i+1, err)
				}
			}
			err := reserve(th, "198.51.100.7:1", tc.username, tc.userID)
			var te *ThrottledError
			if !errors.Is(err, ErrThrottled) || !errors.As(err, &te) {
				t.Fatalf("attempt 11: got %v, want ErrThrottled", err)
			}
			if te.RetryAfter != time.Minute {
				t.Errorf("first lockout: got %s, want 1m0s", te.RetryAfter)
			}
			rec := httptest.NewRecorder()
			te.SetRetryAfter(rec)
			if got := rec.Header().Get("Retry-After"); got != "60" {
				t.Errorf("Retry-After: got %q, want 60", got)
			}
		})
	}
	clock.Advance(time.Minute)
	if err := reserve(th, "198.51.100.7:1", "alice", "u-alice"); err != nil {
		t.Fatalf("after the lockout: got %v, want nil", err)
	}
	var te *ThrottledError
	if err := reserve(th, "198.51.100.7:1", "alice", "u-alice"); !errors.As(err, &te) || te.RetryAfter != 2*time.Minute {
		t.Fatalf("second lockout: got %v, want a 2m0s lockout", err)
	}
	if err := th.Succeeded(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := reserve(th, "198.51.100.7:1", "alice", "u-alice"); err != nil {
		t.Errorf("after a success: got %v, want nil", err)
	}
	events, err := store.ListEvents(context.Background(), "u-alice", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	locked := 0
	for _, e := range events {
		if e.Type == storage.EventPasswordLockout {
			locked++
			if e.IP == "" {
				t.Errorf("lockout event without the client address: %+v", e)
			}
		}
	}
	if locked != 2 {
		t.Errorf("password_locked_out events: got %d, want 2 (one per lockout started)", locked)
	}
}

// TestPasswordThrottlePerAddress: one address trying many accounts is
// stopped after the address's free attempts, successes included, until
// the window ends; another address is not; an IPv6 client counts as its /64.
func TestPasswordThrottlePerAddress(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) {
		c.PasswordThrottle.Address = storage.AttemptPolicy{FreeAttempts: 5, BaseLockout: time.Second, MaxLockout: time.Minute, MaxFailures: 1 << 30}
	})
	th := m.PasswordThrottle()
	for _, tc := range []struct{ name, first, rest string }{
		{"an IPv4 address", "203.0.113.9:1000", "203.0.113.9:2000"},
		{"an IPv6 /64", "[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := reserve(th, tc.first, "user-0-"+tc.name, ""); err != nil {
				t.Fatal(err)
			}
			for i := 1; i < 5; i++ {
				if err := reserve(th, tc.rest, "user-"+itoa(i)+"-"+tc.name, ""); err != nil {
					t.Fatalf("attempt %d: got %v, want nil", i+1, err)
				}
				if i == 2 {
					_ = th.Succeeded(context.Background(), "user-2-"+tc.name)
				}
			}
			if err := reserve(th, tc.rest, "fresh-"+tc.name, ""); !errors.Is(err, ErrThrottled) {
				t.Fatalf("attempt 6 on a fresh account: got %v, want ErrThrottled", err)
			}
		})
	}
	if err := reserve(th, "203.0.113.10:1", "fresh", ""); err != nil {
		t.Errorf("another address: got %v, want nil", err)
	}
	clock.Advance(DefaultPasswordAddressWindow)
	if err := reserve(th, "203.0.113.9:1", "fresh-2", ""); err != nil {
		t.Errorf("the next window: got %v, want nil", err)
	}
}

// TestPasswordThrottleParallelGuesses: of many parallel attempts on one
// account, exactly the free ones get through (the counter is atomic and
// counts before the password is checked).
func TestPasswordThrottleParallelGuesses(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	th := m.PasswordThrottle()
	var passed atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if reserve(th, "192.0.2."+itoa(i)+":1", "alice", "u") == nil {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := passed.Load(); got != DefaultPasswordAccountFreeAttempts {
		t.Errorf("attempts that reached the password check: got %d, want %d", got, DefaultPasswordAccountFreeAttempts)
	}
}

// TestPasswordThrottleFailsClosed: a store outage refuses the attempt.
func TestPasswordThrottleFailsClosed(t *testing.T) {
	t.Parallel()
	store := &failingThrottleStore{Store: newMemoryStore(t)}
	m := newTestManager(t, store, newFakeClock(), nil)
	if err := reserve(m.PasswordThrottle(), "192.0.2.1:1", "alice", ""); !errors.Is(err, ErrUnavailable) {
		t.Errorf("during an outage: got %v, want ErrUnavailable", err)
	}
}

type failingThrottleStore struct{ storage.Store }

func (failingThrottleStore) ReserveAttempt(context.Context, string, time.Time, storage.AttemptPolicy) (storage.Throttle, error) {
	return storage.Throttle{}, errOutage
}

func TestPasswordThrottleConfigIsValidated(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Store: newMemoryStore(t), Keys: testKeys(t, 1), PasswordThrottle: PasswordThrottleConfig{Account: storage.AttemptPolicy{FreeAttempts: 3}}})
	if err == nil {
		t.Error("a policy without lockout durations: got nil, want an error")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestPasswordThrottleWithoutRequest: a Go caller without a request is
// throttled per account only, so jobs do not share one address counter.
func TestPasswordThrottleWithoutRequest(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), func(c *Config) {
		c.PasswordThrottle.Address = storage.AttemptPolicy{FreeAttempts: 1, BaseLockout: time.Minute, MaxLockout: time.Minute, MaxFailures: 1 << 30}
	})
	th := m.PasswordThrottle()
	for i := range 5 {
		if err := th.Reserve(context.Background(), Audit{}, "user-"+itoa(i), ""); err != nil {
			t.Fatalf("attempt %d without a request: got %v, want nil", i+1, err)
		}
	}
	for range DefaultPasswordAccountFreeAttempts - 1 {
		th.Reserve(context.Background(), Audit{}, "alice", "")
	}
	if err := th.Reserve(context.Background(), Audit{}, "alice", ""); err != nil {
		t.Fatalf("the 10th attempt: got %v, want nil", err)
	}
	if err := th.Reserve(context.Background(), Audit{}, "alice", ""); !errors.Is(err, ErrThrottled) {
		t.Errorf("the 11th attempt on one account without a request: got %v, want ErrThrottled", err)
	}
}

// TestPasswordThrottleRecordsExpire: the records of sprayed usernames and
// of an address are removable DefaultPasswordThrottleRetention after their
// last attempt, and not before, so they cannot pile up in the store.
func TestPasswordThrottleRecordsExpire(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := newMemoryStore(t)
	m := newTestManager(t, store, clock, nil)
	th := m.PasswordThrottle()
	at := clock.Now()
	for i := range 3 {
		if err := reserve(th, "192.0.2.1:1234", "sprayed-"+itoa(i), ""); err != nil {
			t.Fatalf("attempt %d: got %v, want nil", i+1, err)
		}
	}
	ctx := context.Background()
	n, err := store.DeleteExpiredThrottles(ctx, at.Add(DefaultPasswordThrottleRetention-time.Second))
	if err != nil || n != 0 {
		t.Fatalf("DeleteExpiredThrottles within the retention: got %d, %v, want 0, nil", n, err)
	}
	// Three usernames and one address window.
	n, err = store.DeleteExpiredThrottles(ctx, at.Add(DefaultPasswordThrottleRetention))
	if err != nil || n != 4 {
		t.Fatalf("DeleteExpiredThrottles after the retention: got %d, %v, want 4, nil", n, err)
	}
}
