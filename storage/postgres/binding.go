package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
)

// schemaBindings is migration 3: device bindings (DBSC) and their
// single-use challenges.
const schemaBindings = `
CREATE TABLE {schema}.device_bindings (
	user_id    text        NOT NULL,
	handle     text        NOT NULL,
	id         text        NOT NULL,
	public_key bytea       NOT NULL,
	thumbprint text        NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (user_id, handle)
);
CREATE TABLE {schema}.binding_challenges (
	user_id       text        NOT NULL,
	handle        text        NOT NULL,
	value         text        NOT NULL,
	auth_value    text        NOT NULL,
	expires_at    timestamptz NOT NULL,
	PRIMARY KEY (user_id, handle, value)
);
CREATE INDEX binding_challenges_expires_at ON {schema}.binding_challenges (expires_at);
`

// PutDeviceBinding implements [storage.DeviceBindingStore].
func (s *Store) PutDeviceBinding(ctx context.Context, b *storage.DeviceBinding) error {
	key := b.PublicKey
	if key == nil {
		key = []byte{}
	}
	_, err := s.pool.Exec(ctx, s.q(`INSERT INTO {schema}.device_bindings
	(user_id, handle, id, public_key, thumbprint, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (user_id, handle) DO UPDATE SET id = EXCLUDED.id, public_key = EXCLUDED.public_key,
	thumbprint = EXCLUDED.thumbprint, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`),
		b.UserID, b.SessionHandle, b.ID, key, b.Thumbprint, b.CreatedAt, b.ExpiresAt)
	return wrap(ctx, "put device binding", err)
}

// GetDeviceBinding implements [storage.DeviceBindingStore].
func (s *Store) GetDeviceBinding(ctx context.Context, userID, handle string) (*storage.DeviceBinding, error) {
	b := storage.DeviceBinding{UserID: userID, SessionHandle: handle}
	err := s.pool.QueryRow(ctx, s.q(`SELECT id, public_key, thumbprint, created_at, expires_at
FROM {schema}.device_bindings WHERE user_id = $1 AND handle = $2`), userID, handle).
		Scan(&b.ID, &b.PublicKey, &b.Thumbprint, &b.CreatedAt, &b.ExpiresAt)
	if err != nil {
		return nil, wrap(ctx, "get device binding", err)
	}
	return &b, nil
}

// DeleteDeviceBindings implements [storage.DeviceBindingStore] in one
// statement.
func (s *Store) DeleteDeviceBindings(ctx context.Context, userID, exceptHandle string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, s.q(`WITH c AS (DELETE FROM {schema}.binding_challenges WHERE user_id = $1 AND handle <> $2),
b AS (DELETE FROM {schema}.device_bindings WHERE user_id = $1 AND handle <> $2 RETURNING 1)
SELECT count(*) FROM b`), userID, exceptHandle).Scan(&n)
	return n, wrap(ctx, "delete device bindings", err)
}

// DeleteDeviceBinding implements [storage.DeviceBindingStore] in one
// statement.
func (s *Store) DeleteDeviceBinding(ctx context.Context, userID, handle string) error {
	_, err := s.pool.Exec(ctx, s.q(`WITH c AS (DELETE FROM {schema}.binding_challenges WHERE user_id = $1 AND handle = $2)
DELETE FROM {schema}.device_bindings WHERE user_id = $1 AND handle = $2`), userID, handle)
	return wrap(ctx, "delete device binding", err)
}

// AddBindingChallenge implements [storage.DeviceBindingStore]. It also
// deletes expired challenges (the index makes it cheap).
func (s *Store) AddBindingChallenge(ctx context.Context, c *storage.BindingChallenge) error {
	const op = "add binding challenge"
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap(ctx, op, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, s.q(`WITH old AS (DELETE FROM {schema}.binding_challenges WHERE expires_at <= $6)
INSERT INTO {schema}.binding_challenges (user_id, handle, value, auth_value, expires_at) VALUES ($1, $2, $3, $4, $5)`),
		c.UserID, c.SessionHandle, c.Value, c.Authorization, c.ExpiresAt, s.now()); err != nil {
		return wrap(ctx, op, err)
	}
	if _, err := tx.Exec(ctx, s.q(`DELETE FROM {schema}.binding_challenges WHERE user_id = $1 AND handle = $2 AND value NOT IN
	(SELECT value FROM {schema}.binding_challenges WHERE user_id = $1 AND handle = $2 ORDER BY expires_at DESC, value LIMIT $3)`),
		c.UserID, c.SessionHandle, storage.MaxBindingChallenges); err != nil {
		return wrap(ctx, op, err)
	}
	return wrap(ctx, op, tx.Commit(ctx))
}

// UseBindingChallenge implements [storage.DeviceBindingStore]: one DELETE
// … RETURNING, so that of concurrent uses exactly one gets the row.
func (s *Store) UseBindingChallenge(ctx context.Context, userID, handle, value string, now time.Time) (*storage.BindingChallenge, error) {
	const op = "use binding challenge"
	c := storage.BindingChallenge{UserID: userID, SessionHandle: handle, Value: value}
	err := s.pool.QueryRow(ctx, s.q(`DELETE FROM {schema}.binding_challenges WHERE user_id = $1 AND handle = $2 AND value = $3
RETURNING auth_value, expires_at`), userID, handle, value).Scan(&c.Authorization, &c.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !now.Before(c.ExpiresAt)) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return &c, nil
}
