package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
)

// schemaTrustedBrowsers is migration 4: trusted browsers.
const schemaTrustedBrowsers = `
CREATE TABLE {schema}.trusted_browsers (
	id           text        PRIMARY KEY,
	user_id      text        NOT NULL,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	last_used_at timestamptz NOT NULL,
	ip           text        NOT NULL,
	device       text        NOT NULL,
	location     text        NOT NULL
);
CREATE INDEX trusted_browsers_user ON {schema}.trusted_browsers (user_id, created_at DESC);
`

const trustedColumns = `id, user_id, created_at, expires_at, last_used_at, ip, device, location`

func scanTrusted(row pgx.Row) (*storage.TrustedBrowser, error) {
	var b storage.TrustedBrowser
	if err := row.Scan(&b.ID, &b.UserID, &b.CreatedAt, &b.ExpiresAt, &b.LastUsedAt, &b.IP, &b.Device, &b.Location); err != nil {
		return nil, err
	}
	return &b, nil
}

// CreateTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) CreateTrustedBrowser(ctx context.Context, b *storage.TrustedBrowser) error {
	_, err := s.pool.Exec(ctx, s.q(`INSERT INTO {schema}.trusted_browsers (`+trustedColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`),
		b.ID, b.UserID, b.CreatedAt, b.ExpiresAt, b.LastUsedAt, b.IP, b.Device, b.Location)
	return wrap(ctx, "create trusted browser", err)
}

// GetTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) GetTrustedBrowser(ctx context.Context, userID, id string) (*storage.TrustedBrowser, error) {
	b, err := scanTrusted(s.pool.QueryRow(ctx, s.q(`SELECT `+trustedColumns+` FROM {schema}.trusted_browsers WHERE id = $1 AND user_id = $2`), id, userID))
	if err != nil {
		return nil, wrap(ctx, "get trusted browser", err)
	}
	return b, nil
}

// TouchTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) TouchTrustedBrowser(ctx context.Context, userID, id string, at time.Time) error {
	const op = "touch trusted browser"
	tag, err := s.pool.Exec(ctx, s.q(`UPDATE {schema}.trusted_browsers SET last_used_at = $3 WHERE id = $1 AND user_id = $2`), id, userID, at)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(op)
	}
	return nil
}

// ListTrustedBrowsers implements [storage.TrustedBrowserStore].
func (s *Store) ListTrustedBrowsers(ctx context.Context, userID string) ([]storage.TrustedBrowser, error) {
	const op = "list trusted browsers"
	rows, err := s.pool.Query(ctx, s.q(`SELECT `+trustedColumns+` FROM {schema}.trusted_browsers
		WHERE user_id = $1 ORDER BY created_at DESC, id`), userID)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	out := []storage.TrustedBrowser{}
	for rows.Next() {
		b, err := scanTrusted(rows)
		if err != nil {
			return nil, wrap(ctx, op, err)
		}
		out = append(out, *b)
	}
	return out, wrap(ctx, op, rows.Err())
}

// DeleteTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) DeleteTrustedBrowser(ctx context.Context, userID, id string) error {
	const op = "delete trusted browser"
	tag, err := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.trusted_browsers WHERE id = $1 AND user_id = $2`), id, userID)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(op)
	}
	return nil
}

// DeleteTrustedBrowsers implements [storage.TrustedBrowserStore].
func (s *Store) DeleteTrustedBrowsers(ctx context.Context, userID string) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.trusted_browsers WHERE user_id = $1`), userID)
	if err != nil {
		return 0, wrap(ctx, "delete trusted browsers", err)
	}
	return int(tag.RowsAffected()), nil
}
