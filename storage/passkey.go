package storage

import (
	"context"
	"time"
)

// Passkey is one WebAuthn credential (a security key or a passkey) of a
// user.
type Passkey struct {
	// ID is a public random handle, unique per store, that names the
	// credential in lists and routes. It is not a credential.
	ID     string
	UserID string
	// CredentialID is the authenticator's credential ID, unique per
	// store.
	CredentialID []byte
	// Name is the user's name for it ("YubiKey 5C").
	Name string
	// Data is the rest of the credential record as the WebAuthn library
	// serialises it (public key, AAGUID, transports, attestation). Not a
	// secret, but only the passkey package reads it.
	Data []byte
	// SignCount is the authenticator's signature counter as last
	// accepted; see [PasskeyStore.RecordPasskeyUse].
	SignCount uint32
	// BackupEligible and BackupState are the authenticator's BE and BS
	// flags (a synced passkey is eligible; BS says it is backed up now).
	BackupEligible bool
	BackupState    bool
	CreatedAt      time.Time
	// LastUsedAt is the zero time until first used.
	LastUsedAt time.Time
}

// PasskeyChallenge is a pending WebAuthn ceremony: single-use and
// short-lived.
type PasskeyChallenge struct {
	// ID is a random handle the client sends back with its answer.
	ID string
	// UserID is the user the ceremony is for ("" for a sign-in without a
	// username).
	UserID string
	// Kind names the ceremony ("register", "login", "second_factor").
	Kind string
	// Data is the WebAuthn library's session data (the challenge).
	Data      []byte
	ExpiresAt time.Time
}

// PasskeyStore keeps WebAuthn credentials and pending challenges.
type PasskeyStore interface {
	// CreatePasskey stores p. An existing ID or CredentialID is
	// [ErrConflict].
	CreatePasskey(ctx context.Context, p *Passkey) error

	// ListPasskeys returns userID's passkeys, oldest CreatedAt first (ties
	// by ID), and an empty list for none.
	ListPasskeys(ctx context.Context, userID string) ([]Passkey, error)

	// GetPasskeyByCredentialID returns the passkey with credential ID id,
	// whoever's it is, or [ErrNotFound].
	GetPasskeyByCredentialID(ctx context.Context, id []byte) (*Passkey, error)

	// RecordPasskeyUse atomically records a verified use of userID's
	// passkey id: SignCount becomes signCount, BackupState backupState and
	// LastUsedAt at — but only if signCount is greater than the stored
	// count, or both are zero (an authenticator without a counter). A
	// counter that does not increase (a possible cloned key) changes
	// nothing and is [ErrConflict]; so of two concurrent uses with the
	// same count exactly one succeeds. Another user's or an unknown id is
	// [ErrNotFound].
	RecordPasskeyUse(ctx context.Context, userID, id string, signCount uint32, backupState bool, at time.Time) error

	// RenamePasskey sets the name of userID's passkey id ([ErrNotFound] as
	// RecordPasskeyUse).
	RenamePasskey(ctx context.Context, userID, id, name string) error

	// DeletePasskey removes userID's passkey id ([ErrNotFound] as
	// RecordPasskeyUse).
	DeletePasskey(ctx context.Context, userID, id string) error

	// PutPasskeyChallenge stores c ([ErrConflict] for an existing ID).
	PutPasskeyChallenge(ctx context.Context, c *PasskeyChallenge) error

	// TakePasskeyChallenge removes and returns challenge id atomically, so
	// of concurrent takes exactly one gets it. A challenge that expired at
	// now, or none, is [ErrNotFound]. It also removes every other
	// challenge expired at now (the housekeeping of abandoned ceremonies).
	TakePasskeyChallenge(ctx context.Context, id string, now time.Time) (*PasskeyChallenge, error)
}
