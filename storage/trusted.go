package storage

import (
	"context"
	"time"
)

// TrustedBrowser is one browser on which a user chose to skip the second
// factor for a while ("trust this browser"). The browser holds a sealed
// cookie naming the record; the record is what makes the trust valid, so
// deleting it ends the trust at once.
type TrustedBrowser struct {
	// ID is a public random handle, unique per store. It is not a
	// credential.
	ID     string
	UserID string
	// CreatedAt is when the browser was trusted; ExpiresAt when the trust
	// ends. A backend keeps expired records until they are deleted; the
	// caller compares ExpiresAt.
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastUsedAt is when the trust last skipped a second factor (CreatedAt
	// until then).
	LastUsedAt time.Time
	// Where the browser was trusted: client IP, human device label and
	// location label, as in the security log.
	IP       string
	Device   string
	Location string
}

// TrustedBrowserStore keeps trusted-browser records.
type TrustedBrowserStore interface {
	// CreateTrustedBrowser stores b. b.ID is new: an existing ID is
	// [ErrConflict].
	CreateTrustedBrowser(ctx context.Context, b *TrustedBrowser) error

	// GetTrustedBrowser returns userID's record id, expired or not. An
	// unknown ID and another user's give the same [ErrNotFound].
	GetTrustedBrowser(ctx context.Context, userID, id string) (*TrustedBrowser, error)

	// TouchTrustedBrowser sets the record's LastUsedAt to at ([ErrNotFound]
	// as GetTrustedBrowser).
	TouchTrustedBrowser(ctx context.Context, userID, id string, at time.Time) error

	// ListTrustedBrowsers returns userID's records, expired ones included,
	// newest CreatedAt first (ties by ID), and an empty list for none.
	ListTrustedBrowsers(ctx context.Context, userID string) ([]TrustedBrowser, error)

	// DeleteTrustedBrowser removes userID's record id ([ErrNotFound] as
	// GetTrustedBrowser: another user's record is left alone).
	DeleteTrustedBrowser(ctx context.Context, userID, id string) error

	// DeleteTrustedBrowsers removes all of userID's records and returns
	// how many there were.
	DeleteTrustedBrowsers(ctx context.Context, userID string) (int, error)
}
