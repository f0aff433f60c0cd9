package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
)

// sessionColumns is the column list of every session read, in the order
// scanSession expects.
const sessionColumns = `token_hash, handle, user_id, created_at, expires_at, auth_level, auth_at,
	last_seen_at, last_seen_ip, user_agent, browser, browser_version, os, device_type,
	city, region, country, country_code`

// sessionValues returns the values of s in sessionColumns order.
func sessionValues(s *storage.Session) []any {
	return []any{
		s.TokenHash[:], s.Handle, s.UserID, s.CreatedAt, s.ExpiresAt, int16(s.AuthLevel), s.AuthAt,
		s.LastSeenAt, s.LastSeenIP, s.UserAgent, s.Device.Browser, s.Device.BrowserVersion, s.Device.OS, s.Device.Type,
		s.Location.City, s.Location.Region, s.Location.Country, s.Location.CountryCode,
	}
}

// sessionRow is everything scanning one session needs, in one allocation:
// the session itself, the scan destinations, and the column that needs a
// conversion.
type sessionRow struct {
	s     storage.Session
	level int16
	dst   [19]any
}

// scanSession reads one row of sessionColumns, optionally followed by one
// more column, which it skips.
func scanSession(row pgx.Row, skipLast bool) (*storage.Session, error) {
	r := &sessionRow{}
	s := &r.s
	r.dst = [19]any{
		hashDst{&s.TokenHash}, &s.Handle, &s.UserID, &s.CreatedAt, &s.ExpiresAt, &r.level, &s.AuthAt,
		&s.LastSeenAt, &s.LastSeenIP, &s.UserAgent, &s.Device.Browser, &s.Device.BrowserVersion, &s.Device.OS, &s.Device.Type,
		&s.Location.City, &s.Location.Region, &s.Location.Country, &s.Location.CountryCode, nil,
	}
	dst := r.dst[:18]
	if skipLast {
		dst = r.dst[:]
	}
	if err := row.Scan(dst...); err != nil {
		return nil, err
	}
	s.AuthLevel = storage.AuthLevel(r.level)
	return s, nil
}

// hashDst scans a bytea token hash into a TokenHash without an
// intermediate slice (pgtype.BytesScanner; pgx passes its read buffer).
type hashDst struct{ h *storage.TokenHash }

// ScanBytes implements pgtype.BytesScanner.
func (d hashDst) ScanBytes(b []byte) error { return copyHash(d.h, b) }

// copyHash copies a bytea token hash into h.
func copyHash(h *storage.TokenHash, b []byte) error {
	if len(b) != len(h) {
		return fmt.Errorf("stored token hash has %d bytes, want %d", len(b), len(h))
	}
	copy(h[:], b)
	return nil
}

// CreateSession stores sess; ErrConflict if its token hash or handle
// exists.
func (s *Store) CreateSession(ctx context.Context, sess *storage.Session) error {
	_, err := s.pool.Exec(ctx, s.q(`INSERT INTO {schema}.sessions (`+sessionColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`),
		sessionValues(sess)...)
	return wrap(ctx, "create session", err)
}

// GetSession returns the session with token hash h, or ErrNotFound. It is
// one network round trip in every exec mode a transaction pooler supports
// (cached describe, exec, simple protocol) and in the default one (a
// prepared statement after its first use on a connection), and allocates
// no more than the bare pgx read it wraps.
func (s *Store) GetSession(ctx context.Context, h storage.TokenHash) (*storage.Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx,
		s.q(`SELECT `+sessionColumns+` FROM {schema}.sessions WHERE token_hash = $1`), h[:]), false)
	if err != nil {
		return nil, wrap(ctx, "get session", err)
	}
	return sess, nil
}

// ListSessions returns userID's sessions, most recent LastSeenAt first
// (ties: most recent CreatedAt first).
func (s *Store) ListSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	rows, err := s.pool.Query(ctx, s.q(`SELECT `+sessionColumns+` FROM {schema}.sessions
WHERE user_id = $1 ORDER BY last_seen_at DESC, created_at DESC, handle`), userID)
	if err != nil {
		return nil, wrap(ctx, "list sessions", err)
	}
	defer rows.Close()
	var out []storage.Session
	for rows.Next() {
		sess, err := scanSession(rows, false)
		if err != nil {
			return nil, wrap(ctx, "list sessions", err)
		}
		out = append(out, *sess)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list sessions", err)
	}
	return out, nil
}

// TouchSession records activity; ErrNotFound if the session is gone.
func (s *Store) TouchSession(ctx context.Context, h storage.TokenHash, a storage.Activity) error {
	tag, err := s.pool.Exec(ctx, s.q(`UPDATE {schema}.sessions SET last_seen_at = $2, last_seen_ip = $3, user_agent = $4,
	browser = $5, browser_version = $6, os = $7, device_type = $8,
	city = $9, region = $10, country = $11, country_code = $12
WHERE token_hash = $1`),
		h[:], a.At, a.IP, a.UserAgent, a.Device.Browser, a.Device.BrowserVersion, a.Device.OS, a.Device.Type,
		a.Location.City, a.Location.Region, a.Location.Country, a.Location.CountryCode)
	if err != nil {
		return wrap(ctx, "touch session", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("touch session")
	}
	return nil
}

// RotateSession replaces the session old by sess in one UPDATE of old's
// row: nothing is stored if old is gone (ErrNotFound), and a conflict on
// sess's token hash or handle changes nothing (ErrConflict). The notice
// that old died is sent on commit.
//
// An UPDATE rather than DELETE + INSERT: under READ COMMITTED a revocation
// that meets the row while the rotation holds it re-reads the row's new
// version, and deletes the rotated session, whereas it would skip a
// deleted row and never see an inserted one, so the rotated session would
// survive a revocation that began before the rotation committed.
func (s *Store) RotateSession(ctx context.Context, old storage.TokenHash, sess *storage.Session) error {
	args := append([]any{old[:], s.channel}, sessionValues(sess)...)
	tag, err := s.pool.Exec(ctx, s.q(`WITH rotated AS (
	UPDATE {schema}.sessions SET (`+sessionColumns+`) =
		($3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
	FROM (SELECT user_id FROM {schema}.sessions WHERE token_hash = $1) AS old
	WHERE sessions.token_hash = $1
	RETURNING `+sqlPayload("$1", "old.user_id")+` AS payload
), fed AS (
	INSERT INTO {schema}.revocation_feed (payload) SELECT payload FROM rotated
)
SELECT pg_notify($2, payload) FROM rotated`),
		args...)
	if err != nil {
		return wrap(ctx, "rotate session", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("rotate session")
	}
	return nil
}

// RevokeSession deletes userID's session with the given handle and returns
// it, notifying subscribers in the same statement; ErrNotFound if there is
// no such session of userID.
func (s *Store) RevokeSession(ctx context.Context, userID, handle string) (*storage.Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, s.q(`WITH deleted AS (
	DELETE FROM {schema}.sessions WHERE user_id = $1 AND handle = $2
	RETURNING `+sessionColumns+`, `+sqlPayload("token_hash", "user_id")+` AS payload
), fed AS (
	INSERT INTO {schema}.revocation_feed (payload) SELECT payload FROM deleted
)
SELECT `+sessionColumns+`, pg_notify($3, payload) FROM deleted`),
		userID, handle, s.channel), true)
	if err != nil {
		return nil, wrap(ctx, "revoke session", err)
	}
	return sess, nil
}

// RevokeUserSessions deletes every session of userID except the one with
// token hash except, and notifies subscribers once if it deleted any: one
// statement, one round trip, whatever the number of sessions.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, except storage.TokenHash) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, s.q(`WITH deleted AS (
	DELETE FROM {schema}.sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2 RETURNING 1
), counted AS (
	SELECT count(*) AS n, `+sqlStamp("$4::text")+` AS payload FROM deleted
), fed AS (
	INSERT INTO {schema}.revocation_feed (payload) SELECT payload FROM counted WHERE n > 0
)
SELECT n, CASE WHEN n > 0 THEN pg_notify($3, payload) END FROM counted`),
		userID, optionalHash(except), s.channel, encodePayload(storage.TokenHash{}, userID)).Scan(&n, nil)
	if err != nil {
		return 0, wrap(ctx, "revoke user sessions", err)
	}
	return n, nil
}

// optionalHash maps the zero hash to SQL NULL.
func optionalHash(h storage.TokenHash) any {
	if h.IsZero() {
		return nil
	}
	return h[:]
}

// DeleteExpiredSessions removes sessions whose ExpiresAt is not after now.
// It does not notify.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.sessions WHERE expires_at <= $1`), now)
	if err != nil {
		return 0, wrap(ctx, "delete expired sessions", err)
	}
	return int(tag.RowsAffected()), nil
}
