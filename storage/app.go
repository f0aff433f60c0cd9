package storage

import (
	"context"
	"time"
)

// AppGrant is a third-party application's access to a user's account,
// through a bearer token that was shown once and is stored only as its hash.
type AppGrant struct {
	// ID is the grant's public, random handle (unique per store).
	ID         string
	UserID     string
	AppName    string
	Scopes     []string
	TokenHash  TokenHash
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
}

// AppGrantStore keeps connected-app grants. Revoked grants are removed, as
// sessions are.
type AppGrantStore interface {
	// CreateAppGrant stores g; ErrConflict if its ID or TokenHash exists.
	CreateAppGrant(ctx context.Context, g *AppGrant) error

	// GetAppGrant returns the grant whose token hash is h, or ErrNotFound.
	GetAppGrant(ctx context.Context, h TokenHash) (*AppGrant, error)

	// ListAppGrants returns userID's grants, newest CreatedAt first.
	ListAppGrants(ctx context.Context, userID string) ([]AppGrant, error)

	// TouchAppGrant sets LastUsedAt; ErrNotFound if the grant is gone.
	TouchAppGrant(ctx context.Context, h TokenHash, at time.Time) error

	// RevokeAppGrant deletes userID's grant with the given ID and returns
	// it; ErrNotFound if there is none or it belongs to another user
	// (indistinguishable, RFC 7009 §2.1). Subscribers are notified.
	RevokeAppGrant(ctx context.Context, userID, id string) (*AppGrant, error)

	// RevokeUserAppGrants atomically deletes all of userID's grants and
	// returns how many. Subscribers are notified once.
	RevokeUserAppGrants(ctx context.Context, userID string) (int, error)
}
