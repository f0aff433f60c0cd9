package storage

import (
	"context"
	"time"
)

// DeviceBinding binds a session to a key pair held by the user's device
// (Device Bound Session Credentials): the browser proves possession of the
// private key to keep the session usable. A session has at most one
// binding, keyed by its user and handle (the handle survives token
// rotation).
type DeviceBinding struct {
	UserID        string
	SessionHandle string
	// ID is the DBSC session identifier the browser sends back on refresh
	// (public, random).
	ID string
	// PublicKey is the device's public key as a JSON Web Key (public
	// members only).
	PublicKey []byte
	// Thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url.
	Thumbprint string
	CreatedAt  time.Time
	// ExpiresAt is the session's absolute expiry: the binding is useless
	// after it. Backends may drop the binding from then on.
	ExpiresAt time.Time
}

// BindingChallenge is a single-use challenge issued to a session's device:
// for registration (with the Authorization value the registration must
// echo) or for a refresh.
type BindingChallenge struct {
	UserID        string
	SessionHandle string
	// Value is the random challenge (the JWT's jti).
	Value string
	// Authorization is the value a registration must carry; empty for
	// refresh challenges.
	Authorization string
	ExpiresAt     time.Time
}

// MaxBindingChallenges is how many challenges a session keeps (see
// [DeviceBindingStore.AddBindingChallenge]).
const MaxBindingChallenges = 16

// DeviceBindingStore keeps device bindings and their recent challenges.
type DeviceBindingStore interface {
	// PutDeviceBinding stores b as the binding of the session (b.UserID,
	// b.SessionHandle), replacing any earlier one.
	PutDeviceBinding(ctx context.Context, b *DeviceBinding) error

	// GetDeviceBinding returns the binding of userID's session handle, or
	// ErrNotFound (also for another user's handle).
	GetDeviceBinding(ctx context.Context, userID, handle string) (*DeviceBinding, error)

	// DeleteDeviceBindings deletes every binding of userID except the one
	// of the session exceptHandle ("": delete all) with their challenges,
	// and returns how many bindings it deleted. Deleting one session's
	// binding is DeleteDeviceBinding.
	DeleteDeviceBindings(ctx context.Context, userID, exceptHandle string) (int, error)

	// DeleteDeviceBinding deletes the binding of userID's session handle
	// and its challenges. A missing binding is a no-op.
	DeleteDeviceBinding(ctx context.Context, userID, handle string) error

	// AddBindingChallenge stores c. Challenges are random: a duplicate
	// Value for the same session returns ErrConflict. A session keeps its
	// MaxBindingChallenges most recent challenges (latest ExpiresAt): adding
	// one more drops the one that expires first, so that requests for
	// challenges cannot grow the store without bound.
	AddBindingChallenge(ctx context.Context, c *BindingChallenge) error

	// UseBindingChallenge atomically removes the challenge value of
	// userID's session handle and returns it. It returns ErrNotFound if
	// there is no such challenge — never issued, issued to another
	// session, already used (a replay), or expired at now — and then
	// changes nothing. Of concurrent calls for one challenge, through any
	// clients, exactly one succeeds.
	UseBindingChallenge(ctx context.Context, userID, handle, value string, now time.Time) (*BindingChallenge, error)
}
