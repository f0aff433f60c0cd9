package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// bindingMigration is schema version 3: device bindings (DBSC) and their
// single-use challenges.
var bindingMigration = []string{
	`CREATE TABLE device_bindings (
		user_id    TEXT    NOT NULL,
		handle     TEXT    NOT NULL,
		id         TEXT    NOT NULL,
		public_key BLOB    NOT NULL,
		thumbprint TEXT    NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		PRIMARY KEY (user_id, handle)
	) STRICT, WITHOUT ROWID`,
	`CREATE TABLE binding_challenges (
		user_id       TEXT    NOT NULL,
		handle        TEXT    NOT NULL,
		value         TEXT    NOT NULL,
		auth_value    TEXT    NOT NULL,
		expires_at    INTEGER NOT NULL,
		PRIMARY KEY (user_id, handle, value)
	) STRICT, WITHOUT ROWID`,
	`CREATE INDEX binding_challenges_expires_at ON binding_challenges (expires_at)`,
}

// PutDeviceBinding implements [storage.DeviceBindingStore].
func (s *Store) PutDeviceBinding(ctx context.Context, b *storage.DeviceBinding) error {
	key := b.PublicKey
	if key == nil {
		key = []byte{}
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO device_bindings
			(user_id, handle, id, public_key, thumbprint, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, handle) DO UPDATE SET id = excluded.id, public_key = excluded.public_key,
			thumbprint = excluded.thumbprint, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		b.UserID, b.SessionHandle, b.ID, key, b.Thumbprint, encodeTime(b.CreatedAt), encodeTime(b.ExpiresAt))
	return wrap(ctx, "put device binding", err)
}

// GetDeviceBinding implements [storage.DeviceBindingStore].
func (s *Store) GetDeviceBinding(ctx context.Context, userID, handle string) (*storage.DeviceBinding, error) {
	b := storage.DeviceBinding{UserID: userID, SessionHandle: handle}
	var created, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT id, public_key, thumbprint, created_at, expires_at
		FROM device_bindings WHERE user_id = ? AND handle = ?`, userID, handle).
		Scan(&b.ID, &b.PublicKey, &b.Thumbprint, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap(ctx, "get device binding", storage.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "get device binding", err)
	}
	b.CreatedAt, b.ExpiresAt = decodeTime(created), decodeTime(expires)
	return &b, nil
}

// DeleteDeviceBindings implements [storage.DeviceBindingStore] in one
// transaction.
func (s *Store) DeleteDeviceBindings(ctx context.Context, userID, exceptHandle string) (int, error) {
	const op = "delete device bindings"
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM device_bindings WHERE user_id = ? AND handle <> ?`, userID, exceptHandle)
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM binding_challenges WHERE user_id = ? AND handle <> ?`, userID, exceptHandle); err != nil {
		return 0, wrap(ctx, op, err)
	}
	return int(n), wrap(ctx, op, tx.Commit())
}

// DeleteDeviceBinding implements [storage.DeviceBindingStore] in one
// transaction.
func (s *Store) DeleteDeviceBinding(ctx context.Context, userID, handle string) error {
	const op = "delete device binding"
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(ctx, op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_bindings WHERE user_id = ? AND handle = ?`, userID, handle); err != nil {
		return wrap(ctx, op, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM binding_challenges WHERE user_id = ? AND handle = ?`, userID, handle); err != nil {
		return wrap(ctx, op, err)
	}
	return wrap(ctx, op, tx.Commit())
}

// AddBindingChallenge implements [storage.DeviceBindingStore]. It also
// deletes expired challenges (of every session: the index makes it cheap).
func (s *Store) AddBindingChallenge(ctx context.Context, c *storage.BindingChallenge) error {
	const op = "add binding challenge"
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(ctx, op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM binding_challenges WHERE expires_at <= ?`, encodeTime(s.now())); err != nil {
		return wrap(ctx, op, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO binding_challenges (user_id, handle, value, auth_value, expires_at)
		VALUES (?, ?, ?, ?, ?)`, c.UserID, c.SessionHandle, c.Value, c.Authorization, encodeTime(c.ExpiresAt)); err != nil {
		return wrap(ctx, op, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM binding_challenges WHERE user_id = ?1 AND handle = ?2 AND value NOT IN
		(SELECT value FROM binding_challenges WHERE user_id = ?1 AND handle = ?2 ORDER BY expires_at DESC, value LIMIT ?3)`,
		c.UserID, c.SessionHandle, storage.MaxBindingChallenges); err != nil {
		return wrap(ctx, op, err)
	}
	return wrap(ctx, op, tx.Commit())
}

// UseBindingChallenge implements [storage.DeviceBindingStore]: one DELETE
// … RETURNING, so that of concurrent uses exactly one gets the row.
func (s *Store) UseBindingChallenge(ctx context.Context, userID, handle, value string, now time.Time) (*storage.BindingChallenge, error) {
	const op = "use binding challenge"
	c := storage.BindingChallenge{UserID: userID, SessionHandle: handle, Value: value}
	var expires int64
	err := s.w.QueryRowContext(ctx, `DELETE FROM binding_challenges WHERE user_id = ? AND handle = ? AND value = ?
		RETURNING auth_value, expires_at`, userID, handle, value).Scan(&c.Authorization, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap(ctx, op, storage.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	c.ExpiresAt = decodeTime(expires)
	if !now.Before(c.ExpiresAt) {
		return nil, wrap(ctx, op, storage.ErrNotFound)
	}
	return &c, nil
}
