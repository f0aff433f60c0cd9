package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// Defaults of [PasswordThrottleConfig].
const (
	DefaultPasswordAccountFreeAttempts = 10
	DefaultPasswordAccountBaseLockout  = time.Minute
	DefaultPasswordAccountMaxLockout   = time.Hour
	DefaultPasswordAddressFreeAttempts = 100
	DefaultPasswordAddressBaseLockout  = time.Second
	DefaultPasswordAddressMaxLockout   = time.Minute
	DefaultPasswordAddressWindow       = time.Hour
	// DefaultPasswordThrottleRetention is the Retention given to the
	// Account and Address policies that have none: their records are keyed
	// by whatever is typed or wherever requests come from, so they must
	// expire (see storage.ThrottleStore).
	DefaultPasswordThrottleRetention = storage.ThrottleRetention
)

// ErrThrottled: too many password attempts for this account or from this
// client address; the attempt was refused before the password was looked
// at. The error is a [*ThrottledError], which says when to retry.
var ErrThrottled = errors.New("session: too many password attempts")

// ThrottledError is the error [PasswordThrottle.Reserve] returns during a
// lockout. errors.Is(err, ErrThrottled) reports true for it.
type ThrottledError struct {
	// RetryAfter is how long until an attempt is allowed again (at least
	// one second).
	RetryAfter time.Duration
}

// Error implements error.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%s: retry after %s", ErrThrottled, e.RetryAfter)
}

// Is reports whether target is ErrThrottled.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// SetRetryAfter sets w's Retry-After header (RFC 9110 §10.2.3) to the
// whole seconds to wait, rounded up.
func (e *ThrottledError) SetRetryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(e.RetryAfter.Seconds())), 10))
}

// PasswordThrottleConfig is [Config.PasswordThrottle]. Its zero value
// means the documented defaults.
//
// Per account: DefaultPasswordAccountFreeAttempts (10) attempts without a
// success, then a lockout of one minute that doubles with each further
// attempt up to one hour: a couple of dozen guesses a day. There is no hard
// cap, since a permanent lock would let anyone who knows a username lock its
// owner out. A correct password resets the account's counter.
//
// Per client address (an IPv6 address counts as its /64): up to
// DefaultPasswordAddressFreeAttempts (100) attempts, successful or not, per
// AddressWindow (one hour), then a lockout of one second that doubles up
// to one minute until the window ends. This bounds what one address can
// try across many accounts (credential stuffing); successes count too, so
// that an attacker's own account cannot reset it.
type PasswordThrottleConfig struct {
	// Account is the policy per account. Default 10 free attempts, 1 min
	// doubling to 1 h, no hard cap. Records are removed a Retention
	// (default DefaultPasswordThrottleRetention, 24 h) after their last
	// attempt, or when their lockout ends if that is later.
	Account storage.AttemptPolicy
	// Address is the policy per client address and window. Default 100
	// free attempts, 1 s doubling to 1 min, no hard cap; Retention as for
	// Account.
	Address storage.AttemptPolicy
	// AddressWindow is how long an address's count lives. Default 1 h.
	AddressWindow time.Duration
}

func (c *PasswordThrottleConfig) setDefaults() {
	if c.Account == (storage.AttemptPolicy{}) {
		c.Account = storage.AttemptPolicy{FreeAttempts: DefaultPasswordAccountFreeAttempts, BaseLockout: DefaultPasswordAccountBaseLockout, MaxLockout: DefaultPasswordAccountMaxLockout, MaxFailures: math.MaxInt32}
	}
	if c.Address == (storage.AttemptPolicy{}) {
		c.Address = storage.AttemptPolicy{FreeAttempts: DefaultPasswordAddressFreeAttempts, BaseLockout: DefaultPasswordAddressBaseLockout, MaxLockout: DefaultPasswordAddressMaxLockout, MaxFailures: math.MaxInt32}
	}
	setDefault(&c.AddressWindow, DefaultPasswordAddressWindow)
	setDefault(&c.Account.Retention, DefaultPasswordThrottleRetention)
	setDefault(&c.Address.Retention, DefaultPasswordThrottleRetention)
}

func (c *PasswordThrottleConfig) validate() error {
	for name, p := range map[string]storage.AttemptPolicy{"Account": c.Account, "Address": c.Address} {
		if p.FreeAttempts < 1 || p.BaseLockout <= 0 || p.MaxLockout < p.BaseLockout || p.MaxFailures < p.FreeAttempts {
			return fmt.Errorf("PasswordThrottle.%s: want FreeAttempts ≥ 1, 0 < BaseLockout ≤ MaxLockout, MaxFailures ≥ FreeAttempts", name)
		}
	}
	if c.AddressWindow < time.Second {
		return errors.New("PasswordThrottle.AddressWindow must be at least one second")
	}
	return nil
}

// PasswordThrottle slows password guessing on the sign-in form and on
// every form that asks for the password again, per account and per client
// address, on the store's atomic attempt counter ([storage.ThrottleStore]):
// an attempt is counted before the password is checked, so of any number of
// parallel guesses at most the allowed number reach the password check. Get
// it with [Manager.PasswordThrottle]; its policy is
// [Config.PasswordThrottle]. It is safe for concurrent use.
//
// Use it around the application's own password check:
//
//	if err := th.Reserve(ctx, session.Audit{Request: r}, username, userID); err != nil {
//		// errors.Is(err, session.ErrThrottled): answer 429 with Retry-After
//	}
//	if passwordIsRight {
//		th.Succeeded(ctx, username)
//	}
type PasswordThrottle struct {
	cfg   *Config
	pol   PasswordThrottleConfig
	log   *SecurityLog
	clock func() time.Time
	ip    func(r *http.Request) netip.Addr
}

// PasswordThrottle returns the Manager's password throttle.
func (m *Manager) PasswordThrottle() *PasswordThrottle { return m.throttle }

// Reserve counts one password attempt for the account named username (as
// the user typed it, after the application's own normalisation) from a's
// request's client address, before the password is checked. It returns a
// [*ThrottledError] (errors.Is ErrThrottled) when either is locked out:
// then the password must not be checked, whether right or wrong, so the
// answer says nothing about it. A store failure is returned wrapped in
// [ErrUnavailable]: the caller must refuse the sign-in (fail closed).
//
// The account counter is keyed by username, not by whether it exists:
// unknown usernames are throttled exactly like real ones, so a lockout
// reveals nothing. Without a request in a (Audit{}: a job, a tool) only
// the account counter applies. userID is the account's ID when username names one, ""
// otherwise; it is used only to record a "password_locked_out" event in
// that user's security log when a lockout starts (never shown to the
// client).
func (t *PasswordThrottle) Reserve(ctx context.Context, a Audit, username, userID string) error {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.StorageTimeout)
	defer cancel()
	now := t.clock()
	if a.Request != nil {
		addr := t.addressKey(a.Request, now)
		st, err := t.cfg.Store.ReserveAttempt(ctx, addr, now, t.pol.Address)
		if errors.Is(err, storage.ErrLocked) {
			return t.locked(st, now)
		} else if err != nil {
			return fmt.Errorf("%w: password throttle: %w", ErrUnavailable, err)
		}
		if st.Failures == t.pol.Address.FreeAttempts {
			ip, _, _ := strings.Cut(addr[len(addrKeyPrefix):], "@")
			t.cfg.Logger.Warn("session: password attempts from one client address throttled", "address", ip, "attempts", st.Failures)
		}
	}
	st, err := t.cfg.Store.ReserveAttempt(ctx, accountKey(username), now, t.pol.Account)
	if errors.Is(err, storage.ErrLocked) {
		return t.locked(st, now)
	} else if err != nil {
		return fmt.Errorf("%w: password throttle: %w", ErrUnavailable, err)
	}
	if st.Failures >= t.pol.Account.FreeAttempts && userID != "" {
		// This attempt is allowed and starts a lockout for the next.
		t.log.record(ctx, a, nil, userID, storage.EventPasswordLockout, (st.LockedUntil.Sub(now)).String())
	}
	return nil
}

// Succeeded resets the account counter of username after its password
// verified. The address counter is not reset (see
// [PasswordThrottleConfig]). A store failure is returned but need not fail
// the sign-in: the counter then only stays higher than it should.
func (t *PasswordThrottle) Succeeded(ctx context.Context, username string) error {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.StorageTimeout)
	defer cancel()
	if err := t.cfg.Store.ResetAttempts(ctx, accountKey(username)); err != nil {
		return fmt.Errorf("%w: password throttle: %w", ErrUnavailable, err)
	}
	return nil
}

func (t *PasswordThrottle) locked(st storage.Throttle, now time.Time) error {
	d := st.LockedUntil.Sub(now)
	if st.LockedUntil.IsZero() { // the hard cap of a custom policy
		d = t.pol.Account.MaxLockout
	}
	return &ThrottledError{RetryAfter: max(d, time.Second)}
}

const (
	accountKeyPrefix = "password:account:"
	addrKeyPrefix    = "password:address:"
)

// accountKey is the throttle key of username: a hash, so that the store
// holds neither the names people typed nor unbounded keys.
func accountKey(username string) string {
	h := sha256.Sum256([]byte(username))
	return accountKeyPrefix + hex.EncodeToString(h[:])
}

// addressKey is the throttle key of r's client address in the window that
// contains now. An IPv6 address counts as its /64, which one client
// usually holds whole.
func (t *PasswordThrottle) addressKey(r *http.Request, now time.Time) string {
	ip := t.ip(r)
	s := "unknown"
	if ip.IsValid() {
		ip = ip.Unmap()
		if ip.Is6() {
			ip = netip.PrefixFrom(ip, 64).Masked().Addr()
		}
		s = ip.String()
	}
	return addrKeyPrefix + s + "@" + strconv.FormatInt(now.UnixNano()/int64(t.pol.AddressWindow), 10)
}
