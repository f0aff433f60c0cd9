package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// passkeysSchema is migration 5.
var passkeysSchema = []string{
	`CREATE TABLE passkeys (
		id              TEXT    NOT NULL PRIMARY KEY,
		user_id         TEXT    NOT NULL,
		credential_id   BLOB    NOT NULL UNIQUE,
		name            TEXT    NOT NULL,
		data            BLOB,
		sign_count      INTEGER NOT NULL,
		backup_eligible INTEGER NOT NULL,
		backup_state    INTEGER NOT NULL,
		created_at      INTEGER NOT NULL,
		last_used_at    INTEGER NOT NULL
	) STRICT`,
	`CREATE INDEX passkeys_user ON passkeys (user_id, created_at)`,
	`CREATE TABLE passkey_challenges (
		id         TEXT    NOT NULL PRIMARY KEY,
		user_id    TEXT    NOT NULL,
		kind       TEXT    NOT NULL,
		data       BLOB,
		expires_at INTEGER NOT NULL
	) STRICT`,
	`CREATE INDEX passkey_challenges_expires ON passkey_challenges (expires_at)`,
}

const passkeyColumns = `id, user_id, credential_id, name, data, sign_count, backup_eligible, backup_state, created_at, last_used_at`

func scanPasskey(sc scanner) (*storage.Passkey, error) {
	var (
		p             storage.Passkey
		count         int64
		created, used int64
	)
	if err := sc.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Name, &p.Data, &count, &p.BackupEligible, &p.BackupState, &created, &used); err != nil {
		return nil, err
	}
	p.SignCount = uint32(count)
	p.CreatedAt, p.LastUsedAt = decodeTime(created), decodeTime(used)
	return &p, nil
}

func passkeyNotFound(op string) error {
	return fmt.Errorf("storage/sqlite: %s: %w", op, storage.ErrNotFound)
}

// CreatePasskey implements [storage.PasskeyStore].
func (s *Store) CreatePasskey(ctx context.Context, p *storage.Passkey) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.CredentialID, p.Name, p.Data, int64(p.SignCount), p.BackupEligible, p.BackupState,
		encodeTime(p.CreatedAt), encodeTime(p.LastUsedAt))
	return wrap(ctx, "create passkey", err)
}

// ListPasskeys implements [storage.PasskeyStore].
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	const op = "list passkeys"
	rows, err := s.r.QueryContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	out := []storage.Passkey{}
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, wrap(ctx, op, err)
		}
		out = append(out, *p)
	}
	return out, wrap(ctx, op, rows.Err())
}

// GetPasskeyByCredentialID implements [storage.PasskeyStore].
func (s *Store) GetPasskeyByCredentialID(ctx context.Context, id []byte) (*storage.Passkey, error) {
	const op = "get passkey"
	p, err := scanPasskey(s.r.QueryRowContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, passkeyNotFound(op)
	}
	return p, wrap(ctx, op, err)
}

// RecordPasskeyUse implements [storage.PasskeyStore] in one conditional
// UPDATE: the counter check and the write cannot be split by another use.
func (s *Store) RecordPasskeyUse(ctx context.Context, userID, id string, signCount uint32, backupState bool, at time.Time) error {
	const op = "record passkey use"
	res, err := s.w.ExecContext(ctx, `UPDATE passkeys SET sign_count = ?1, backup_state = ?2, last_used_at = ?3
		WHERE id = ?4 AND user_id = ?5 AND (sign_count < ?1 OR (sign_count = 0 AND ?1 = 0))`,
		int64(signCount), backupState, encodeTime(at), id, userID)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(ctx, op, err)
	} else if n == 1 {
		return nil
	}
	var one int
	switch err := s.w.QueryRowContext(ctx, `SELECT 1 FROM passkeys WHERE id = ? AND user_id = ?`, id, userID).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return passkeyNotFound(op)
	case err != nil:
		return wrap(ctx, op, err)
	}
	return fmt.Errorf("storage/sqlite: %s: signature counter did not increase: %w", op, storage.ErrConflict)
}

// RenamePasskey implements [storage.PasskeyStore].
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?`, name, id, userID)
	return passkeyRow(ctx, "rename passkey", res, err)
}

// DeletePasskey implements [storage.PasskeyStore].
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID)
	return passkeyRow(ctx, "delete passkey", res, err)
}

func passkeyRow(ctx context.Context, op string, res sql.Result, err error) error {
	if err != nil {
		return wrap(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n == 0 {
		return passkeyNotFound(op)
	}
	return nil
}

// PutPasskeyChallenge implements [storage.PasskeyStore].
func (s *Store) PutPasskeyChallenge(ctx context.Context, c *storage.PasskeyChallenge) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO passkey_challenges (id, user_id, kind, data, expires_at) VALUES (?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.Kind, c.Data, encodeTime(c.ExpiresAt))
	return wrap(ctx, "put passkey challenge", err)
}

// TakePasskeyChallenge implements [storage.PasskeyStore] with one DELETE …
// RETURNING: of concurrent takes, one deletes the row and gets it.
func (s *Store) TakePasskeyChallenge(ctx context.Context, id string, now time.Time) (*storage.PasskeyChallenge, error) {
	const op = "take passkey challenge"
	var (
		c       storage.PasskeyChallenge
		expires int64
	)
	err := s.w.QueryRowContext(ctx, `DELETE FROM passkey_challenges WHERE id = ? RETURNING id, user_id, kind, data, expires_at`, id).
		Scan(&c.ID, &c.UserID, &c.Kind, &c.Data, &expires)
	if _, herr := s.w.ExecContext(ctx, `DELETE FROM passkey_challenges WHERE expires_at <= ?`, encodeTime(now)); herr != nil && err == nil {
		err = herr
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, passkeyNotFound(op)
	} else if err != nil {
		return nil, wrap(ctx, op, err)
	}
	c.ExpiresAt = decodeTime(expires)
	if !now.Before(c.ExpiresAt) {
		return nil, passkeyNotFound(op)
	}
	return &c, nil
}
