package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// trustedBrowsersSchema is migration 4.
var trustedBrowsersSchema = []string{
	`CREATE TABLE trusted_browsers (
		id           TEXT    NOT NULL PRIMARY KEY,
		user_id      TEXT    NOT NULL,
		created_at   INTEGER NOT NULL,
		expires_at   INTEGER NOT NULL,
		last_used_at INTEGER NOT NULL,
		ip           TEXT    NOT NULL,
		device       TEXT    NOT NULL,
		location     TEXT    NOT NULL
	) STRICT`,
	`CREATE INDEX trusted_browsers_user ON trusted_browsers (user_id, created_at DESC)`,
}

const trustedColumns = `id, user_id, created_at, expires_at, last_used_at, ip, device, location`

func trustedNotFound(op string) error {
	return fmt.Errorf("storage/sqlite: %s: %w", op, storage.ErrNotFound)
}

func scanTrusted(sc scanner, b *storage.TrustedBrowser) error {
	var created, expires, used int64
	if err := sc.Scan(&b.ID, &b.UserID, &created, &expires, &used, &b.IP, &b.Device, &b.Location); err != nil {
		return err
	}
	b.CreatedAt, b.ExpiresAt, b.LastUsedAt = decodeTime(created), decodeTime(expires), decodeTime(used)
	return nil
}

// CreateTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) CreateTrustedBrowser(ctx context.Context, b *storage.TrustedBrowser) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO trusted_browsers (`+trustedColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, b.UserID, encodeTime(b.CreatedAt), encodeTime(b.ExpiresAt), encodeTime(b.LastUsedAt), b.IP, b.Device, b.Location)
	return wrap(ctx, "create trusted browser", err)
}

// GetTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) GetTrustedBrowser(ctx context.Context, userID, id string) (*storage.TrustedBrowser, error) {
	const op = "get trusted browser"
	b := new(storage.TrustedBrowser)
	err := scanTrusted(s.r.QueryRowContext(ctx, `SELECT `+trustedColumns+` FROM trusted_browsers WHERE id = ? AND user_id = ?`, id, userID), b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, trustedNotFound(op)
	} else if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return b, nil
}

// TouchTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) TouchTrustedBrowser(ctx context.Context, userID, id string, at time.Time) error {
	const op = "touch trusted browser"
	res, err := s.w.ExecContext(ctx, `UPDATE trusted_browsers SET last_used_at = ? WHERE id = ? AND user_id = ?`, encodeTime(at), id, userID)
	return oneRow(ctx, op, res, err)
}

// ListTrustedBrowsers implements [storage.TrustedBrowserStore].
func (s *Store) ListTrustedBrowsers(ctx context.Context, userID string) ([]storage.TrustedBrowser, error) {
	const op = "list trusted browsers"
	rows, err := s.r.QueryContext(ctx, `SELECT `+trustedColumns+` FROM trusted_browsers
		WHERE user_id = ? ORDER BY created_at DESC, id`, userID)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	out := []storage.TrustedBrowser{}
	for rows.Next() {
		var b storage.TrustedBrowser
		if err := scanTrusted(rows, &b); err != nil {
			return nil, wrap(ctx, op, err)
		}
		out = append(out, b)
	}
	return out, wrap(ctx, op, rows.Err())
}

// DeleteTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) DeleteTrustedBrowser(ctx context.Context, userID, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM trusted_browsers WHERE id = ? AND user_id = ?`, id, userID)
	return oneRow(ctx, "delete trusted browser", res, err)
}

// DeleteTrustedBrowsers implements [storage.TrustedBrowserStore].
func (s *Store) DeleteTrustedBrowsers(ctx context.Context, userID string) (int, error) {
	const op = "delete trusted browsers"
	res, err := s.w.ExecContext(ctx, `DELETE FROM trusted_browsers WHERE user_id = ?`, userID)
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap(ctx, op, err)
}

// oneRow turns an update or delete that matched no row into ErrNotFound.
func oneRow(ctx context.Context, op string, res sql.Result, err error) error {
	if err != nil {
		return wrap(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n == 0 {
		return trustedNotFound(op)
	}
	return nil
}
