package storage

import (
	"context"
	"time"
)

// AuthLevel says how a session authenticated.
type AuthLevel uint8

const (
	// AuthNone is the zero value: not a valid level for a stored session.
	AuthNone AuthLevel = iota
	// AuthPendingSecondFactor means the first factor (password) passed but
	// the user has a second factor that has not been given yet. Such a
	// session is unauthenticated everywhere except the second-factor step
	// (SECURITY.md §18).
	AuthPendingSecondFactor
	// AuthPassword means the user authenticated with one factor and has no
	// second factor to give.
	AuthPassword
	// AuthSecondFactor means the user authenticated with two factors.
	AuthSecondFactor
)

// String returns a stable lower-case name ("pending_second_factor",
// "password", "second_factor").
func (l AuthLevel) String() string {
	switch l {
	case AuthPendingSecondFactor:
		return "pending_second_factor"
	case AuthPassword:
		return "password"
	case AuthSecondFactor:
		return "second_factor"
	default:
		return "none"
	}
}

// Valid reports whether l is one of the defined non-zero levels.
func (l AuthLevel) Valid() bool { return l >= AuthPendingSecondFactor && l <= AuthSecondFactor }

// Device is what a User-Agent says about the client.
type Device struct {
	Browser        string // e.g. "Chrome"
	BrowserVersion string // major version, e.g. "131"
	OS             string // e.g. "macOS"
	Type           string // "desktop", "mobile", "tablet", "bot" or "unknown"
}

// Location is an approximate place derived from an IP address. Zero when
// unknown.
type Location struct {
	City        string // English name, e.g. "Lisbon"
	Region      string // English name of the first subdivision
	Country     string // English name, e.g. "Portugal"
	CountryCode string // ISO 3166-1 alpha-2, e.g. "PT"
}

// IsZero reports whether nothing is known about the location.
func (l Location) IsZero() bool { return l == Location{} }

// Session is the server-side state of one signed-in device.
//
// A session is keyed by the SHA-256 of its token and also has a public,
// random Handle, unique per store, used to list and revoke it: the token
// never leaves the cookie.
type Session struct {
	TokenHash TokenHash
	Handle    string
	UserID    string

	CreatedAt time.Time
	// ExpiresAt is the absolute expiry; it never moves (SECURITY.md §5).
	ExpiresAt time.Time

	AuthLevel AuthLevel
	// AuthAt is when the session last authenticated (password or second
	// factor); it drives the recent-authentication rule.
	AuthAt time.Time

	LastSeenAt time.Time
	LastSeenIP string
	UserAgent  string // truncated by the caller before storage
	Device     Device
	Location   Location
}

// Activity is what a throttled last-seen write records.
type Activity struct {
	At        time.Time
	IP        string
	UserAgent string
	Device    Device
	Location  Location
}

// SessionStore keeps sessions. Revoked sessions are removed: a revoked
// session is indistinguishable from one that never existed (this keeps
// allowlist semantics on every backend, SECURITY.md §9). The security log,
// not the session table, keeps the record of revocations.
type SessionStore interface {
	// CreateSession stores s. It returns ErrConflict if a session with the
	// same TokenHash or Handle exists.
	CreateSession(ctx context.Context, s *Session) error

	// GetSession returns the session with token hash h, or ErrNotFound.
	// It may return a session past ExpiresAt that has not been swept yet:
	// callers enforce timeouts.
	GetSession(ctx context.Context, h TokenHash) (*Session, error)

	// ListSessions returns userID's sessions, most recent LastSeenAt first
	// (ties: most recent CreatedAt first). It may include sessions past
	// ExpiresAt that have not been swept yet. No sessions is not an error.
	ListSessions(ctx context.Context, userID string) ([]Session, error)

	// TouchSession records activity on the session with token hash h:
	// LastSeenAt, LastSeenIP, UserAgent, Device and Location are replaced.
	// It returns ErrNotFound if the session does not exist (for example it
	// was revoked meanwhile).
	TouchSession(ctx context.Context, h TokenHash, a Activity) error

	// RotateSession atomically replaces the session with token hash old by
	// s (which normally keeps the handle and creation time but has a new
	// token, auth level and AuthAt). It returns ErrNotFound, and stores
	// nothing, if old does not exist: a revoked session can never come
	// back through rotation. Subscribers are notified that old died.
	RotateSession(ctx context.Context, old TokenHash, s *Session) error

	// RevokeSession deletes userID's session with the given handle and
	// returns it. It returns ErrNotFound if there is no such session or it
	// belongs to another user: the two cases are indistinguishable
	// (SECURITY.md §10). Subscribers are notified.
	RevokeSession(ctx context.Context, userID, handle string) (*Session, error)

	// RevokeUserSessions atomically deletes every session of userID except
	// the one with token hash except (zero: delete all) and returns how
	// many it deleted. A session created concurrently is either deleted or
	// created after the revocation, never half. Subscribers are notified
	// once. It is one round trip or one transaction, whatever the number of
	// sessions.
	RevokeUserSessions(ctx context.Context, userID string, except TokenHash) (int, error)

	// DeleteExpiredSessions removes sessions whose ExpiresAt is not after
	// now and returns how many it removed. It does not notify: expired
	// sessions are rejected by their expiry anyway.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}
