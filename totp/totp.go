// Package totp adds time-based one-time passwords (RFC 6238) as a second
// factor to sessions managed by [session.Manager]: enrollment with a QR code,
// verification with replay protection and throttling, single-use recovery
// codes, and the JSON handlers of the HTTP contract
// ([Service.RegisterRoutes], mounted by [session.Manager.Routes]).
//
// The defaults are those every authenticator app understands: SHA-1, 6
// digits, a 30-second step and a 160-bit secret (RFC 4226 R6). A code is
// accepted for the current step and one step either side, each step at most
// once per user (RFC 6238 §5.2). Failed attempts are counted per user across
// all sessions and addresses and lead to a lockout with exponential backoff
// (NIST SP 800-63B §3.2.2). Secrets are encrypted at rest with AES-256-GCM
// under a list of keys that can be rotated; recovery codes are stored as
// SHA-256 hashes.
//
// A typical sign-in: the application checks the password, then calls
// [Service.SignIn]. If the user has a second factor the new session is
// pending ([storage.AuthPendingSecondFactor]): it is unauthenticated
// everywhere except POST /totp/verify, which completes the sign-in and
// rotates the session token.
package totp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// Sentinel errors. Test them with [errors.Is]: returned errors wrap them.
var (
	// ErrInvalidCode reports a code that did not verify: wrong, malformed,
	// outside the accepted window, or already used ([ErrReplay] matches it
	// too, so that a caller checking only ErrInvalidCode answers a replay
	// like any wrong code).
	ErrInvalidCode = errors.New("totp: invalid code")
	// ErrLocked reports that too many attempts failed: no code is checked,
	// right or wrong, until the lockout ends. The returned error is a
	// [*LockedError] that says until when.
	ErrLocked = errors.New("totp: too many failed attempts")
	// ErrNotEnabled reports that the user has no confirmed second factor.
	ErrNotEnabled = errors.New("totp: second factor not enabled")
	// ErrAlreadyEnabled reports that the user already has a confirmed
	// second factor: it must be disabled before enrolling again, and its
	// secret is never shown again.
	ErrAlreadyEnabled = errors.New("totp: second factor already enabled")
	// ErrNoPending reports that there is no pending enrollment to confirm.
	ErrNoPending = errors.New("totp: no pending enrollment")
)

// ErrReplay reports a code that is correct for a time step that was
// already used (RFC 6238 §5.2: the verifier "MUST NOT accept the second
// attempt of the same OTP"). errors.Is(ErrReplay, ErrInvalidCode) is true.
var ErrReplay error = replayError{}

type replayError struct{}

func (replayError) Error() string        { return "totp: code already used" }
func (replayError) Is(target error) bool { return target == ErrInvalidCode }

// LockedError is returned while a user's attempts are locked out. It matches
// [ErrLocked] with [errors.Is].
type LockedError struct {
	// Until is when the next attempt is allowed. It is zero when the hard
	// limit of consecutive failures is reached: then only
	// [Service.ResetLockout] (an administrator) lifts the lockout.
	Until time.Time
}

// Error implements error. It holds no secret.
func (e *LockedError) Error() string { return ErrLocked.Error() }

// Is reports whether target is [ErrLocked].
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// The parameters every authenticator app supports (SECURITY.md §13–14).
const (
	// Period is the length of a time step (RFC 6238 §5.2 recommends 30 s).
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// SecretSize is the size of a TOTP secret in bytes: 160 bits, the
	// length RFC 4226 R6 recommends.
	SecretSize = 20
	// KeySize is the size of a [Key] secret: AES-256.
	KeySize = 32
)

// Defaults of [Config].
const (
	DefaultSkew              = 1
	DefaultRecoveryCodeCount = 10
)

// DefaultPolicy returns the lockout rule used when [Config.Policy] is zero:
// 5 free attempts, then a 30 s lockout that doubles with every further
// failure up to 1 h, and never more than 100 consecutive failures (NIST SP
// 800-63B §3.2.2). Its records have no Retention, so they never expire:
// failures count across any pause until a code verifies (records are keyed
// by user ID, so they are bounded by the user table). It is a function, not
// a variable, so that no code in the process can weaken the default for
// every Service.
func DefaultPolicy() storage.AttemptPolicy {
	return storage.AttemptPolicy{
		FreeAttempts: 5,
		BaseLockout:  30 * time.Second,
		MaxLockout:   time.Hour,
		MaxFailures:  100,
	}
}

// NoSkew is the [Config.Skew] value that accepts codes for the current time
// step only.
const NoSkew = -1

// Config configures a [Service]. Manager, Store, Issuer and Keys are
// required; every other field documents its default.
type Config struct {
	// Manager is the session manager whose sessions this service reads and
	// upgrades, and whose security log ([session.Manager.SecurityLog])
	// receives its events. Required.
	Manager *session.Manager

	// Store keeps credentials, recovery codes and attempt counters.
	// Required; usually the store the Manager was given.
	Store storage.Store

	// Issuer names the service in authenticator apps ("Example Inc").
	// Required; it must not contain a colon.
	Issuer string

	// AccountName returns the account label shown in authenticator apps
	// next to the issuer, typically the user's e-mail address. The default
	// is the user ID itself.
	AccountName func(ctx context.Context, userID string) (string, error)

	// Keys encrypt TOTP secrets at rest with AES-256-GCM, newest first:
	// new secrets are sealed with Keys[0], older keys still open secrets
	// sealed with them (rotate with [Service.RotateKeys]). Required: at
	// least one key, each with a unique non-empty ID and a unique secret of
	// exactly [KeySize] random bytes.
	Keys []Key

	// Clock returns the current time for time steps and lockouts. The
	// default is time.Now; tests inject the fake clock they gave the
	// Manager.
	Clock func() time.Time

	// Logger receives operational logs (never a code or a secret). The
	// default is slog.Default().
	Logger *slog.Logger

	// Skew is how many time steps either side of the current one are
	// accepted, to allow for clock drift and typing time. Zero means the
	// default, 1 step (RFC 6238 §5.2 recommends at most one); [NoSkew]
	// accepts the current step only. Values above 1 are refused.
	Skew int

	// Policy is the lockout rule for failed attempts, shared by TOTP codes
	// and recovery codes. The zero value means [DefaultPolicy]. A custom
	// policy must allow at least one attempt, have positive lockouts with
	// MaxLockout >= BaseLockout, and MaxFailures between 1 and 100.
	Policy storage.AttemptPolicy

	// RecoveryCodeCount is how many recovery codes a set holds. The
	// default (zero) is 10; at most 100.
	RecoveryCodeCount int
}

// Key is one AES-256-GCM key that encrypts TOTP secrets at rest.
type Key struct {
	// ID names the key; it is stored next to each secret it sealed.
	ID string
	// Secret is the key itself: exactly [KeySize] bytes from a
	// cryptographically secure source.
	Secret []byte
}

// Service is the second-factor service. Create it with [New]; it is safe
// for concurrent use.
type Service struct {
	mgr         *session.Manager
	store       storage.Store
	issuer      string
	accountName func(ctx context.Context, userID string) (string, error)
	keys        *keyRing
	now         func() time.Time
	logger      *slog.Logger
	skew        int64
	policy      storage.AttemptPolicy
	codeCount   int
}

// New validates cfg, fills in defaults and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Manager == nil {
		return nil, errors.New("totp: Config.Manager is required")
	}
	if cfg.Store == nil {
		return nil, errors.New("totp: Config.Store is required")
	}
	if strings.TrimSpace(cfg.Issuer) == "" {
		return nil, errors.New("totp: Config.Issuer is required")
	}
	if strings.Contains(cfg.Issuer, ":") {
		// The otpauth label is "issuer:account" (Key URI Format).
		return nil, errors.New("totp: Config.Issuer must not contain a colon")
	}
	if cfg.AccountName == nil {
		cfg.AccountName = func(_ context.Context, userID string) (string, error) { return userID, nil }
	}
	ring, err := newKeyRing(cfg.Keys)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.Skew == 0:
		cfg.Skew = DefaultSkew
	case cfg.Skew == NoSkew:
		cfg.Skew = 0
	case cfg.Skew < 0 || cfg.Skew > 1:
		// RFC 6238 §5.2 / SECURITY.md §14: at most one step either side.
		return nil, fmt.Errorf("totp: Config.Skew %d: must be 0 (default 1), 1 or NoSkew", cfg.Skew)
	}
	if cfg.Policy == (storage.AttemptPolicy{}) {
		cfg.Policy = DefaultPolicy()
	} else if err := validPolicy(cfg.Policy); err != nil {
		return nil, err
	}
	switch {
	case cfg.RecoveryCodeCount == 0:
		cfg.RecoveryCodeCount = DefaultRecoveryCodeCount
	case cfg.RecoveryCodeCount < 0 || cfg.RecoveryCodeCount > 100:
		return nil, fmt.Errorf("totp: Config.RecoveryCodeCount %d: must be between 1 and 100", cfg.RecoveryCodeCount)
	}
	return &Service{
		mgr:         cfg.Manager,
		store:       cfg.Store,
		issuer:      cfg.Issuer,
		accountName: cfg.AccountName,
		keys:        ring,
		now:         cfg.Clock,
		logger:      cfg.Logger,
		skew:        int64(cfg.Skew),
		policy:      cfg.Policy,
		codeCount:   cfg.RecoveryCodeCount,
	}, nil
}

func validPolicy(p storage.AttemptPolicy) error {
	switch {
	case p.FreeAttempts < 1:
		return errors.New("totp: Config.Policy.FreeAttempts must be at least 1")
	case p.BaseLockout <= 0:
		return errors.New("totp: Config.Policy.BaseLockout must be positive")
	case p.MaxLockout < p.BaseLockout:
		return errors.New("totp: Config.Policy.MaxLockout must be at least BaseLockout")
	case p.MaxFailures < 1 || p.MaxFailures > 100:
		// NIST SP 800-63B §3.2.2: no more than 100 consecutive failures.
		return errors.New("totp: Config.Policy.MaxFailures must be between 1 and 100")
	}
	return nil
}
