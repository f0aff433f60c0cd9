package storage

import (
	"context"
	"time"
)

// TOTPCredential is a user's time-based one-time password secret
// (RFC 6238). At most one exists per user.
type TOTPCredential struct {
	UserID string
	// Secret is the encrypted secret (AES-GCM sealed by the caller, nonce
	// included). Backends store it as opaque bytes.
	Secret []byte
	// KeyID names the encryption key that sealed Secret, for rotation.
	KeyID string
	// Confirmed is false while enrollment is pending: a code from the new
	// secret has not been verified yet.
	Confirmed   bool
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while pending
	// LastStep is the last accepted RFC 6238 time step (0: none). A code is
	// accepted only for a strictly newer step (RFC 6238 §5.2).
	LastStep int64
}

// TOTPStore keeps TOTP credentials.
type TOTPStore interface {
	// PutPendingTOTP stores c as a pending (unconfirmed) credential,
	// replacing a pending one. It returns ErrConflict, and changes nothing,
	// if the user has a confirmed credential: re-enrolling requires
	// disabling first. c.Confirmed is ignored.
	PutPendingTOTP(ctx context.Context, c *TOTPCredential) error

	// GetTOTP returns userID's credential, pending or confirmed, or
	// ErrNotFound.
	GetTOTP(ctx context.Context, userID string) (*TOTPCredential, error)

	// ConfirmTOTP atomically marks userID's pending credential confirmed at
	// time at and records step as its last accepted step. It returns
	// ErrNotFound if there is no pending credential (none, or already
	// confirmed).
	ConfirmTOTP(ctx context.Context, userID string, step int64, at time.Time) error

	// AcceptTOTPStep atomically records step as the last accepted step of
	// userID's confirmed credential if it is strictly newer than the stored
	// one. It returns ErrStaleStep if it is not (a replay), ErrNotFound if
	// there is no confirmed credential. Of many concurrent calls with the
	// same step, exactly one succeeds.
	AcceptTOTPStep(ctx context.Context, userID string, step int64) error

	// UpdateTOTPSecret replaces the encrypted secret and its key ID (key
	// rotation) and leaves everything else unchanged; ErrNotFound if none.
	UpdateTOTPSecret(ctx context.Context, userID string, secret []byte, keyID string) error

	// DeleteTOTP removes userID's credential, pending or confirmed. No-op
	// if there is none.
	DeleteTOTP(ctx context.Context, userID string) error
}

// RecoveryCodeStore keeps the SHA-256 hashes of users' single-use recovery
// codes.
type RecoveryCodeStore interface {
	// ReplaceRecoveryCodes atomically replaces userID's whole set of codes
	// with hashes (an empty slice removes them all): old codes stop working
	// the moment new ones are stored.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []TokenHash) error

	// ConsumeRecoveryCode atomically removes the code with hash h from
	// userID's set. It returns ErrNotFound if the user has no such unused
	// code. Of many concurrent calls with the same code, exactly one
	// succeeds.
	ConsumeRecoveryCode(ctx context.Context, userID string, h TokenHash) error

	// CountRecoveryCodes returns how many unused codes userID has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}

// Throttle is the second-factor attempt state of one user, shared by TOTP
// codes and recovery codes so that an attacker gains nothing by
// alternating them.
type Throttle struct {
	// Failures counts consecutive attempts not followed by a success.
	Failures int
	// LockedUntil: no attempt is allowed before it. Zero when not locked.
	LockedUntil time.Time
}

// AttemptPolicy is the lockout rule applied by [ThrottleStore.ReserveAttempt].
type AttemptPolicy struct {
	// FreeAttempts is how many consecutive failures are allowed before a
	// lockout starts.
	FreeAttempts int
	// BaseLockout is the first lockout; each further failure doubles it.
	BaseLockout time.Duration
	// MaxLockout caps a single lockout.
	MaxLockout time.Duration
	// MaxFailures is the hard cap on consecutive failures (NIST SP 800-63B
	// §3.2.2: never more than 100). Once reached, every attempt is refused
	// until [ThrottleStore.ResetAttempts].
	MaxFailures int
	// Retention is how long a record outlives the attempt that last wrote
	// it (see [AttemptPolicy.ExpiresAt]); [ThrottleRetention] is the
	// suggested value. Zero (the default) means never: the record stays
	// until [ThrottleStore.ResetAttempts], so failures count across any
	// pause, as a hard cap on consecutive failures requires. Policies keyed
	// by attacker-chosen values (typed usernames, client addresses) must
	// set it, or their records accumulate without bound.
	Retention time.Duration
}

// Next is the pure rule every backend applies atomically: given the current
// state it returns the state after one more attempt, or ErrLocked (and t
// unchanged) if no attempt is allowed at now.
//
// The attempt is counted as a failure in advance; the caller resets the
// counter with [ThrottleStore.ResetAttempts] when the code verifies. So of
// any number of concurrent attempts, at most the allowed number ever reach
// code verification.
func (p AttemptPolicy) Next(t Throttle, now time.Time) (Throttle, error) {
	if t.Failures >= p.MaxFailures || now.Before(t.LockedUntil) {
		return t, ErrLocked
	}
	t.Failures++
	t.LockedUntil = time.Time{}
	if t.Failures >= p.FreeAttempts {
		d := p.BaseLockout
		for i := p.FreeAttempts; i < t.Failures && d < p.MaxLockout; i++ {
			d *= 2
		}
		d = min(d, p.MaxLockout)
		t.LockedUntil = now.Add(d)
	}
	return t, nil
}

// ThrottleRetention is the suggested [AttemptPolicy.Retention]: a day, so
// that failures spread over hours still climb the exponential backoff,
// while the records of sprayed usernames and addresses do not accumulate
// forever.
const ThrottleRetention = 24 * time.Hour

// ExpiresAt is when a record holding t, written by an attempt at now, may be
// removed: the later of the end of its lockout and now + p.Retention. It
// returns the zero time (never) when p.Retention is zero, and when t has
// reached p.MaxFailures: that lock is permanent until
// [ThrottleStore.ResetAttempts] and must not expire.
func (p AttemptPolicy) ExpiresAt(t Throttle, now time.Time) time.Time {
	if p.Retention <= 0 || t.Failures >= p.MaxFailures {
		return time.Time{}
	}
	exp := now.Add(p.Retention)
	if t.LockedUntil.After(exp) {
		exp = t.LockedUntil
	}
	return exp
}

// ThrottleStore keeps per-user second-factor attempt counters.
//
// Records expire so that keys chosen by an attacker (any typed username,
// any client address) cannot grow the store without bound: each successful
// [ThrottleStore.ReserveAttempt] stores p.ExpiresAt of the new state along
// with it. A record whose expiry is not after now is removable: it is no
// longer locked, and its last failure is at least p.Retention old. A
// record written under a policy without Retention, or that reached
// p.MaxFailures, never expires. Expired records are
// removed by [ThrottleStore.DeleteExpiredThrottles] (run by each backend's
// background sweep) or, on Redis, by a key TTL set in the same
// transaction as the record.
type ThrottleStore interface {
	// ReserveAttempt atomically applies p.Next to userID's throttle at now
	// and stores the result with its expiry (p.ExpiresAt of the result).
	// It returns the new state, or the unchanged state and ErrLocked. A
	// user without a record, or whose record has expired at now, starts at
	// the zero Throttle.
	ReserveAttempt(ctx context.Context, userID string, now time.Time, p AttemptPolicy) (Throttle, error)

	// GetThrottle returns userID's state: the zero Throttle if there is
	// no record, or if it has expired at the store's clock (each backend's
	// Options.Now) but not been removed yet.
	GetThrottle(ctx context.Context, userID string) (Throttle, error)

	// ResetAttempts clears userID's failures and lockout by removing the
	// record. No-op if none.
	ResetAttempts(ctx context.Context, userID string) error

	// DeleteExpiredThrottles removes the records whose expiry is not after
	// now and returns how many it removed. Permanently locked records are
	// kept. On Redis the records expire by TTL and this returns 0.
	DeleteExpiredThrottles(ctx context.Context, now time.Time) (int, error)
}
