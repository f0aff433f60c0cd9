package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
)

// schemaPasskeys is migration 5: passkeys and their challenges.
const schemaPasskeys = `
CREATE TABLE {schema}.passkeys (
	id              text        PRIMARY KEY,
	user_id         text        NOT NULL,
	credential_id   bytea       NOT NULL UNIQUE,
	name            text        NOT NULL,
	data            bytea,
	sign_count      bigint      NOT NULL,
	backup_eligible boolean     NOT NULL,
	backup_state    boolean     NOT NULL,
	created_at      timestamptz NOT NULL,
	last_used_at    timestamptz
);
CREATE INDEX passkeys_user ON {schema}.passkeys (user_id, created_at);
CREATE TABLE {schema}.passkey_challenges (
	id         text        PRIMARY KEY,
	user_id    text        NOT NULL,
	kind       text        NOT NULL,
	data       bytea,
	expires_at timestamptz NOT NULL
);
CREATE INDEX passkey_challenges_expires ON {schema}.passkey_challenges (expires_at);
`

const passkeyColumns = `id, user_id, credential_id, name, data, sign_count, backup_eligible, backup_state, created_at, last_used_at`

func scanPasskey(row pgx.Row) (*storage.Passkey, error) {
	var (
		p     storage.Passkey
		count int64
		used  *time.Time
	)
	if err := row.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Name, &p.Data, &count, &p.BackupEligible, &p.BackupState, &p.CreatedAt, &used); err != nil {
		return nil, err
	}
	p.SignCount = uint32(count)
	p.LastUsedAt = timeOrZero(used)
	return &p, nil
}

// CreatePasskey implements [storage.PasskeyStore].
func (s *Store) CreatePasskey(ctx context.Context, p *storage.Passkey) error {
	_, err := s.pool.Exec(ctx, s.q(`INSERT INTO {schema}.passkeys (`+passkeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`),
		p.ID, p.UserID, p.CredentialID, p.Name, p.Data, int64(p.SignCount), p.BackupEligible, p.BackupState, p.CreatedAt, nullTime(p.LastUsedAt))
	return wrap(ctx, "create passkey", err)
}

// ListPasskeys implements [storage.PasskeyStore].
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	const op = "list passkeys"
	rows, err := s.pool.Query(ctx, s.q(`SELECT `+passkeyColumns+` FROM {schema}.passkeys WHERE user_id = $1 ORDER BY created_at, id`), userID)
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
	p, err := scanPasskey(s.pool.QueryRow(ctx, s.q(`SELECT `+passkeyColumns+` FROM {schema}.passkeys WHERE credential_id = $1`), id))
	if err != nil {
		return nil, wrap(ctx, "get passkey", err)
	}
	return p, nil
}

// RecordPasskeyUse implements [storage.PasskeyStore] in one conditional
// UPDATE (row-locked): the counter check and the write cannot be split.
func (s *Store) RecordPasskeyUse(ctx context.Context, userID, id string, signCount uint32, backupState bool, at time.Time) error {
	const op = "record passkey use"
	tag, err := s.pool.Exec(ctx, s.q(`UPDATE {schema}.passkeys SET sign_count = $1, backup_state = $2, last_used_at = $3
		WHERE id = $4 AND user_id = $5 AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))`),
		int64(signCount), backupState, at, id, userID)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	if err := s.pool.QueryRow(ctx, s.q(`SELECT 1 FROM {schema}.passkeys WHERE id = $1 AND user_id = $2`), id, userID).Scan(&one); err != nil {
		return wrap(ctx, op, err)
	}
	return fmt.Errorf("storage/postgres: %s: signature counter did not increase: %w", op, storage.ErrConflict)
}

// RenamePasskey implements [storage.PasskeyStore].
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	tag, err := s.pool.Exec(ctx, s.q(`UPDATE {schema}.passkeys SET name = $3 WHERE id = $1 AND user_id = $2`), id, userID, name)
	return passkeyRow(ctx, "rename passkey", tag.RowsAffected(), err)
}

// DeletePasskey implements [storage.PasskeyStore].
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	tag, err := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.passkeys WHERE id = $1 AND user_id = $2`), id, userID)
	return passkeyRow(ctx, "delete passkey", tag.RowsAffected(), err)
}

func passkeyRow(ctx context.Context, op string, n int64, err error) error {
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// PutPasskeyChallenge implements [storage.PasskeyStore].
func (s *Store) PutPasskeyChallenge(ctx context.Context, c *storage.PasskeyChallenge) error {
	_, err := s.pool.Exec(ctx, s.q(`INSERT INTO {schema}.passkey_challenges (id, user_id, kind, data, expires_at) VALUES ($1, $2, $3, $4, $5)`),
		c.ID, c.UserID, c.Kind, c.Data, c.ExpiresAt)
	return wrap(ctx, "put passkey challenge", err)
}

// TakePasskeyChallenge implements [storage.PasskeyStore] with one DELETE …
// RETURNING: of concurrent takes, one deletes the row and gets it.
func (s *Store) TakePasskeyChallenge(ctx context.Context, id string, now time.Time) (*storage.PasskeyChallenge, error) {
	const op = "take passkey challenge"
	var c storage.PasskeyChallenge
	err := s.pool.QueryRow(ctx, s.q(`DELETE FROM {schema}.passkey_challenges WHERE id = $1 RETURNING id, user_id, kind, data, expires_at`), id).
		Scan(&c.ID, &c.UserID, &c.Kind, &c.Data, &c.ExpiresAt)
	if _, herr := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.passkey_challenges WHERE expires_at <= $1`), now); herr != nil && err == nil {
		err = herr
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	if !now.Before(c.ExpiresAt) {
		return nil, notFound(op)
	}
	return &c, nil
}
