package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// Wrapped sentinels, returned as they are so that a miss on the hot path
// does not allocate. They are never modified.
var (
	errSessionNotFound  = fmt.Errorf("storage/sqlite: session: %w", storage.ErrNotFound)
	errTOTPNotFound     = fmt.Errorf("storage/sqlite: totp: %w", storage.ErrNotFound)
	errTOTPConfirmed    = fmt.Errorf("storage/sqlite: totp: already confirmed: %w", storage.ErrConflict)
	errTOTPStale        = fmt.Errorf("storage/sqlite: totp: %w", storage.ErrStaleStep)
	errRecoveryNotFound = fmt.Errorf("storage/sqlite: recovery code: %w", storage.ErrNotFound)
	errGrantNotFound    = fmt.Errorf("storage/sqlite: app grant: %w", storage.ErrNotFound)
	errLocked           = fmt.Errorf("storage/sqlite: throttle: %w", storage.ErrLocked)
)

// sessionColumns are the columns scanSession reads, in its order.
const sessionColumns = `token_hash, handle, user_id, created_at, expires_at,
	auth_level, auth_at, last_seen_at, last_seen_ip, user_agent,
	device_browser, device_browser_version, device_os, device_type,
	location_city, location_region, location_country, location_country_code`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanSession reads one row of sessionColumns into s.
func scanSession(sc scanner, s *storage.Session) error {
	var (
		h                                []byte
		created, expires, authAt, seenAt int64
		level                            int64
	)
	err := sc.Scan(&h, &s.Handle, &s.UserID, &created, &expires,
		&level, &authAt, &seenAt, &s.LastSeenIP, &s.UserAgent,
		&s.Device.Browser, &s.Device.BrowserVersion, &s.Device.OS, &s.Device.Type,
		&s.Location.City, &s.Location.Region, &s.Location.Country, &s.Location.CountryCode)
	if err != nil {
		return err
	}
	if err := scanHash(h, &s.TokenHash); err != nil {
		return err
	}
	s.CreatedAt = decodeTime(created)
	s.ExpiresAt = decodeTime(expires)
	s.AuthLevel = storage.AuthLevel(level)
	s.AuthAt = decodeTime(authAt)
	s.LastSeenAt = decodeTime(seenAt)
	return nil
}

// insertSession stores s through e (the writer pool or a transaction).
func insertSession(ctx context.Context, e interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, s *storage.Session) error {
	_, err := e.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		hashArg(s.TokenHash), s.Handle, s.UserID, encodeTime(s.CreatedAt), encodeTime(s.ExpiresAt),
		int64(s.AuthLevel), encodeTime(s.AuthAt), encodeTime(s.LastSeenAt), s.LastSeenIP, s.UserAgent,
		s.Device.Browser, s.Device.BrowserVersion, s.Device.OS, s.Device.Type,
		s.Location.City, s.Location.Region, s.Location.Country, s.Location.CountryCode)
	return err
}

// CreateSession stores s; ErrConflict if its token hash or handle exists.
// See [storage.SessionStore].
func (s *Store) CreateSession(ctx context.Context, sess *storage.Session) error {
	return wrap(ctx, "create session", insertSession(ctx, s.w, sess))
}

// GetSession returns the session with token hash h (one indexed read), or
// ErrNotFound. See [storage.SessionStore].
func (s *Store) GetSession(ctx context.Context, h storage.TokenHash) (*storage.Session, error) {
	row := s.getSessionStmt.QueryRowContext(ctx, hashArg(h))
	sess := new(storage.Session)
	if err := scanSession(row, sess); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errSessionNotFound
		}
		return nil, wrap(ctx, "get session", err)
	}
	return sess, nil
}

// ListSessions returns userID's sessions, most recent LastSeenAt first
// (ties: most recent CreatedAt first). See [storage.SessionStore].
func (s *Store) ListSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? ORDER BY last_seen_at DESC, created_at DESC`, userID)
	if err != nil {
		return nil, wrap(ctx, "list sessions", err)
	}
	defer rows.Close()
	out := []storage.Session{}
	for rows.Next() {
		var sess storage.Session
		if err := scanSession(rows, &sess); err != nil {
			return nil, wrap(ctx, "list sessions", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list sessions", err)
	}
	return out, nil
}

// TouchSession records activity on the session with token hash h, or
// returns ErrNotFound. See [storage.SessionStore].
func (s *Store) TouchSession(ctx context.Context, h storage.TokenHash, a storage.Activity) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET
			last_seen_at = ?, last_seen_ip = ?, user_agent = ?,
			device_browser = ?, device_browser_version = ?, device_os = ?, device_type = ?,
			location_city = ?, location_region = ?, location_country = ?, location_country_code = ?
		WHERE token_hash = ?`,
		encodeTime(a.At), a.IP, a.UserAgent,
		a.Device.Browser, a.Device.BrowserVersion, a.Device.OS, a.Device.Type,
		a.Location.City, a.Location.Region, a.Location.Country, a.Location.CountryCode,
		hashArg(h))
	return affectedOne(ctx, "touch session", res, err, errSessionNotFound)
}

// affectedOne turns the result of a statement that must change a row into
// nil, notFound (no row changed) or a wrapped error.
func affectedOne(ctx context.Context, op string, res sql.Result, err error, notFound error) error {
	if err != nil {
		return wrap(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// RotateSession atomically replaces the session old by sess in one
// immediate transaction: ErrNotFound, and nothing stored, if old does not
// exist; ErrConflict, and nothing changed, if sess's token hash or handle
// belongs to another session. Subscribers are notified that old died. See
// [storage.SessionStore].
func (s *Store) RotateSession(ctx context.Context, old storage.TokenHash, sess *storage.Session) error {
	return s.revoke(ctx, "rotate session", func(tx *sql.Tx) (storage.Revocation, error) {
		var userID string
		err := tx.QueryRowContext(ctx, `DELETE FROM sessions WHERE token_hash = ? RETURNING user_id`,
			hashArg(old)).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.Revocation{}, errSessionNotFound
		}
		if err == nil {
			err = insertSession(ctx, tx, sess)
		}
		return storage.Revocation{UserID: userID, TokenHash: old}, wrap(ctx, "rotate session", err)
	})
}

// RevokeSession deletes userID's session with the given handle and returns
// it; ErrNotFound if there is none or it belongs to another user.
// Subscribers are notified. See [storage.SessionStore].
func (s *Store) RevokeSession(ctx context.Context, userID, handle string) (*storage.Session, error) {
	sess := new(storage.Session)
	err := s.revoke(ctx, "revoke session", func(tx *sql.Tx) (storage.Revocation, error) {
		row := tx.QueryRowContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND handle = ?
			RETURNING `+sessionColumns, userID, handle)
		if err := scanSession(row, sess); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				// Another user's session: indistinguishable from none
				// (SECURITY.md §10).
				return storage.Revocation{}, errSessionNotFound
			}
			return storage.Revocation{}, wrap(ctx, "revoke session", err)
		}
		return storage.Revocation{UserID: userID, TokenHash: sess.TokenHash}, nil
	})
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// RevokeUserSessions deletes every session of userID except the one with
// token hash except (zero: all) with one DELETE statement, in the same
// transaction as its revocation-log row, and notifies subscribers once.
// See [storage.SessionStore].
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, except storage.TokenHash) (int, error) {
	var keep any // NULL: "token_hash IS NOT NULL" keeps nothing
	if !except.IsZero() {
		keep = hashArg(except)
	}
	var n int64
	err := s.revoke(ctx, "revoke user sessions", func(tx *sql.Tx) (storage.Revocation, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash IS NOT ?`, userID, keep)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return storage.Revocation{UserID: userID}, wrap(ctx, "revoke user sessions", err)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// DeleteExpiredSessions removes sessions whose ExpiresAt is not after now
// and returns how many. It does not notify. See [storage.SessionStore].
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, encodeTime(now))
	if err != nil {
		return 0, wrap(ctx, "delete expired sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(ctx, "delete expired sessions", err)
	}
	return int(n), nil
}
