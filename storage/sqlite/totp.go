package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// PutPendingTOTP stores c as userID's pending credential, replacing a
// pending one, in one upsert; ErrConflict, and nothing changed, if the user
// has a confirmed credential. ConfirmedAt is cleared with Confirmed. See
// [storage.TOTPStore].
func (s *Store) PutPendingTOTP(ctx context.Context, c *storage.TOTPCredential) error {
	secret := c.Secret
	if secret == nil {
		secret = []byte{} // the column is NOT NULL
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO totp
			(user_id, secret, key_id, confirmed, created_at, confirmed_at, last_step)
		VALUES (?, ?, ?, 0, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET
			secret = excluded.secret, key_id = excluded.key_id, created_at = excluded.created_at,
			confirmed_at = excluded.confirmed_at, last_step = excluded.last_step
		WHERE totp.confirmed = 0`,
		c.UserID, secret, c.KeyID, encodeTime(c.CreatedAt), encodeTime(time.Time{}), c.LastStep)
	return affectedOne(ctx, "put pending totp", res, err, errTOTPConfirmed)
}

// GetTOTP returns userID's credential, pending or confirmed, or
// ErrNotFound. See [storage.TOTPStore].
func (s *Store) GetTOTP(ctx context.Context, userID string) (*storage.TOTPCredential, error) {
	c := &storage.TOTPCredential{UserID: userID}
	var created, confirmedAt int64
	err := s.r.QueryRowContext(ctx, `SELECT secret, key_id, confirmed, created_at, confirmed_at, last_step
		FROM totp WHERE user_id = ?`, userID).
		Scan(&c.Secret, &c.KeyID, &c.Confirmed, &created, &confirmedAt, &c.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errTOTPNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "get totp", err)
	}
	c.CreatedAt = decodeTime(created)
	c.ConfirmedAt = decodeTime(confirmedAt)
	return c, nil
}

// ConfirmTOTP marks userID's pending credential confirmed at time at with
// step as its last accepted step, in one UPDATE; ErrNotFound if there is no
// pending credential. See [storage.TOTPStore].
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE totp SET confirmed = 1, confirmed_at = ?, last_step = ?
		WHERE user_id = ? AND confirmed = 0`, encodeTime(at), step, userID)
	return affectedOne(ctx, "confirm totp", res, err, errTOTPNotFound)
}

// AcceptTOTPStep records step as the last accepted step of userID's
// confirmed credential if it is strictly newer than the stored one, in one
// conditional UPDATE (RFC 6238 §5.2: a code is accepted at most once):
// ErrStaleStep if it is not, ErrNotFound if there is no confirmed
// credential. See [storage.TOTPStore].
func (s *Store) AcceptTOTPStep(ctx context.Context, userID string, step int64) error {
	res, err := s.w.ExecContext(ctx, `UPDATE totp SET last_step = ?
		WHERE user_id = ? AND confirmed = 1 AND last_step < ?`, step, userID, step)
	err = affectedOne(ctx, "accept totp step", res, err, errTOTPNotFound)
	if err != errTOTPNotFound {
		return err
	}
	// Nothing changed: tell a replay from a missing credential. The
	// decision above was atomic; this only picks the error.
	var confirmed bool
	err = s.w.QueryRowContext(ctx, `SELECT confirmed FROM totp WHERE user_id = ?`, userID).Scan(&confirmed)
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && !confirmed:
		return errTOTPNotFound
	case err != nil:
		return wrap(ctx, "accept totp step", err)
	}
	return errTOTPStale
}

// UpdateTOTPSecret replaces the encrypted secret and key ID of userID's
// credential; ErrNotFound if there is none. See [storage.TOTPStore].
func (s *Store) UpdateTOTPSecret(ctx context.Context, userID string, secret []byte, keyID string) error {
	if secret == nil {
		secret = []byte{}
	}
	res, err := s.w.ExecContext(ctx, `UPDATE totp SET secret = ?, key_id = ? WHERE user_id = ?`,
		secret, keyID, userID)
	return affectedOne(ctx, "update totp secret", res, err, errTOTPNotFound)
}

// DeleteTOTP removes userID's credential; no-op if there is none. See
// [storage.TOTPStore].
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM totp WHERE user_id = ?`, userID)
	return wrap(ctx, "delete totp", err)
}

// ReplaceRecoveryCodes replaces userID's codes with hashes in one
// transaction: old codes stop working when the new ones are stored.
// Duplicate hashes are stored once. See [storage.RecoveryCodeStore].
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []storage.TokenHash) error {
	return s.write(ctx, "replace recovery codes", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return wrap(ctx, "replace recovery codes", err)
		}
		if len(hashes) == 0 {
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO recovery_codes (user_id, hash) VALUES (?, ?)`)
		if err != nil {
			return wrap(ctx, "replace recovery codes", err)
		}
		defer stmt.Close()
		for _, h := range hashes {
			if _, err := stmt.ExecContext(ctx, userID, hashArg(h)); err != nil {
				return wrap(ctx, "replace recovery codes", err)
			}
		}
		return nil
	})
}

// ConsumeRecoveryCode removes the code with hash h from userID's set in one
// DELETE; ErrNotFound if there is no such unused code. Of concurrent calls
// with the same code exactly one succeeds. See [storage.RecoveryCodeStore].
func (s *Store) ConsumeRecoveryCode(ctx context.Context, userID string, h storage.TokenHash) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ? AND hash = ?`,
		userID, hashArg(h))
	return affectedOne(ctx, "consume recovery code", res, err, errRecoveryNotFound)
}

// CountRecoveryCodes returns how many unused codes userID has. See
// [storage.RecoveryCodeStore].
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ?`, userID).Scan(&n)
	if err != nil {
		return 0, wrap(ctx, "count recovery codes", err)
	}
	return n, nil
}

// throttleExpirySchema is migration 6: each throttle row's expiry
// (storage.AttemptPolicy.ExpiresAt; NULL is never), indexed for the sweep.
// Rows written before it keep NULL: they may be permanent locks, whose policy
// the migration cannot know, and they are a fixed, finite set.
var throttleExpirySchema = []string{
	`ALTER TABLE throttle ADD COLUMN expires_at INTEGER`,
	`CREATE INDEX throttle_expires_at ON throttle (expires_at) WHERE expires_at IS NOT NULL`,
}

// ReserveAttempt applies p.Next to userID's throttle at now in one
// immediate transaction (read, decide, write) and returns the new state,
// or the unchanged state and ErrLocked. A row expired at now counts as
// none. See [storage.ThrottleStore].
func (s *Store) ReserveAttempt(ctx context.Context, userID string, now time.Time, p storage.AttemptPolicy) (storage.Throttle, error) {
	var cur, next storage.Throttle
	err := s.write(ctx, "reserve attempt", func(tx *sql.Tx) error {
		var err error
		var expires sql.NullInt64
		if cur, expires, err = getThrottle(ctx, tx, userID); err != nil {
			return err
		}
		if expires.Valid && expires.Int64 <= encodeTime(now) {
			cur = storage.Throttle{}
		}
		if next, err = p.Next(cur, now); err != nil {
			return errLocked
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO throttle (user_id, failures, locked_until, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until,
				expires_at = excluded.expires_at`,
			userID, next.Failures, encodeTime(next.LockedUntil), throttleExpiry(p.ExpiresAt(next, now)))
		return wrap(ctx, "reserve attempt", err)
	})
	if err == errLocked {
		return cur, err
	}
	if err != nil {
		return storage.Throttle{}, err
	}
	return next, nil
}

// getThrottle reads userID's throttle and its encoded expiry through q
// (the zero Throttle if none).
func getThrottle(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, userID string) (storage.Throttle, sql.NullInt64, error) {
	var t storage.Throttle
	var until int64
	var expires sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT failures, locked_until, expires_at FROM throttle WHERE user_id = ?`, userID).
		Scan(&t.Failures, &until, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Throttle{}, expires, nil
	}
	if err != nil {
		return storage.Throttle{}, expires, wrap(ctx, "get throttle", err)
	}
	t.LockedUntil = decodeTime(until)
	return t, expires, nil
}

// GetThrottle returns userID's state (the zero Throttle if none). See
// [storage.ThrottleStore].
func (s *Store) GetThrottle(ctx context.Context, userID string) (storage.Throttle, error) {
	t, expires, err := getThrottle(ctx, s.r, userID)
	if err == nil && expires.Valid && expires.Int64 <= encodeTime(s.now()) {
		return storage.Throttle{}, nil
	}
	return t, err
}

// ResetAttempts clears userID's failures and lockout; no-op if none. See
// [storage.ThrottleStore].
func (s *Store) ResetAttempts(ctx context.Context, userID string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM throttle WHERE user_id = ?`, userID)
	return wrap(ctx, "reset attempts", err)
}

// DeleteExpiredThrottles removes the throttle rows whose expiry is not
// after now; see [storage.ThrottleStore]. The background sweep calls it.
func (s *Store) DeleteExpiredThrottles(ctx context.Context, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM throttle WHERE expires_at <= ?`, encodeTime(now))
	if err != nil {
		return 0, wrap(ctx, "delete expired throttles", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap(ctx, "delete expired throttles", err)
}

// throttleExpiry returns the expires_at argument for t: NULL (never) for
// the zero time.
func throttleExpiry(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return encodeTime(t)
}
