// Package storage defines the data model of sessionguard and the contract
// every storage backend implements.
//
// The package holds types, interfaces and sentinel errors only. Backends live
// in sub-packages (memory, sqlite, postgres, redis) so that importers compile
// only the drivers they use, and every backend passes the same conformance
// suite, [github.com/sessionguard/sessionguard/storage/storagetest].
//
// # Rules common to every method
//
//   - ctx is honoured for cancellation and deadlines; a cancelled context
//     returns an error that wraps ctx.Err().
//   - A missing record is reported with [ErrNotFound]; deleting or revoking
//     something that does not exist is a no-op unless the method says
//     otherwise.
//   - Any other error is a system error (network, disk, driver). Callers must
//     treat it as "unknown" and fail closed: a session whose state cannot be
//     read is not authenticated.
//   - Secrets never reach a backend in clear: session and app tokens are
//     stored as their SHA-256 ([TokenHash]), recovery codes as their SHA-256,
//     TOTP secrets encrypted by the caller.
//   - Returned values are copies: callers may modify them freely.
package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with context (use [errors.Is]).
var (
	// ErrNotFound reports that the record does not exist, has been revoked,
	// or (for lookups that say so) belongs to another user.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict reports that a record with the same unique key (token
	// hash, handle, grant ID) already exists.
	ErrConflict = errors.New("storage: conflict")
	// ErrStaleStep reports that a TOTP time step is not newer than the last
	// accepted one: the code is a replay (RFC 6238 §5.2).
	ErrStaleStep = errors.New("storage: time step already used")
	// ErrLocked reports that second-factor attempts for the user are locked
	// out until [Throttle.LockedUntil].
	ErrLocked = errors.New("storage: attempts locked")
	// ErrNoNotifier is returned by [Notifier.Subscribe] from a backend that
	// cannot deliver revocations across instances. Every backend in this
	// module has a notifier; third-party stores may not.
	ErrNoNotifier = errors.New("storage: notifier not supported")
)

// TokenHash is the SHA-256 of a bearer secret (a session token or an app
// token). Backends store and index it; the secret itself is never stored.
type TokenHash [sha256.Size]byte

// HashToken returns the SHA-256 of token.
func HashToken(token []byte) TokenHash { return sha256.Sum256(token) }

// IsZero reports whether h is the zero hash (no token).
func (h TokenHash) IsZero() bool { return h == TokenHash{} }

// String returns h in lower-case hex. It is safe to log: a hash is not a
// credential.
func (h TokenHash) String() string { return hex.EncodeToString(h[:]) }

// ParseTokenHash parses the output of [TokenHash.String].
func ParseTokenHash(s string) (TokenHash, error) {
	var h TokenHash
	if len(s) != 2*len(h) {
		return h, errors.New("storage: token hash: wrong length")
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, errors.New("storage: token hash: not hex")
	}
	return h, nil
}

// Store is everything a backend implements. All methods are safe for
// concurrent use.
type Store interface {
	SessionStore
	TOTPStore
	RecoveryCodeStore
	ThrottleStore
	AppGrantStore
	EventStore
	DeviceBindingStore
	TrustedBrowserStore
	PasskeyStore
	Notifier
	// Close stops background work (expiry sweeps, notifier connections) and
	// releases resources. Calls after Close may fail.
	Close() error
}

// Notifier fans revocations out to every Manager that shares the backing
// store, so that a session revoked through one application instance is
// rejected by all others within milliseconds.
type Notifier interface {
	// Subscribe calls fn for every revocation committed through any client
	// of the same backing store after Subscribe returns, including this
	// client's own, after the change is committed. fn must be safe for
	// concurrent use and must not block: a backend may call it from the
	// goroutine that committed the change (in-process fan-out) or from a
	// listener goroutine.
	//
	// When the backend loses its connection it calls fn with
	// Revocation{Reset: true} at once, and again after it has reconnected:
	// any notice may have been missed in between, so the subscriber must
	// drop everything it cached.
	//
	// cancel stops delivery and is safe to call more than once. A backend
	// without a notifier returns [ErrNoNotifier].
	Subscribe(fn func(Revocation)) (cancel func(), err error)
}

// Revocation describes what a subscriber must stop trusting.
type Revocation struct {
	// UserID whose sessions or app grants changed.
	UserID string
	// TokenHash of the one session or app grant that was revoked or
	// rotated away. Zero means any number of UserID's sessions and grants
	// may have been revoked.
	TokenHash TokenHash
	// Reset means notices may have been lost: forget everything.
	Reset bool
	// CommittedAt is when the revocation was committed, by the clock of
	// the client or server that committed it, so that a subscriber can
	// measure how long the notice took to arrive (clock skew between
	// hosts included). Zero when the backend does not say (and always
	// for a Reset); subscribers must not rely on it for anything but
	// measurement.
	CommittedAt time.Time
}
