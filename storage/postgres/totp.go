package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
)

// PutPendingTOTP stores c as userID's pending credential, replacing a
// pending one, in one upsert that leaves a confirmed credential alone
// (ErrConflict).
func (s *Store) PutPendingTOTP(ctx context.Context, c *storage.TOTPCredential) error {
	secret := c.Secret
	if secret == nil {
		secret = []byte{}
	}
	tag, err := s.pool.Exec(ctx, s.q(`INSERT INTO {schema}.totp_credentials
	(user_id, secret, key_id, confirmed, created_at, confirmed_at, last_step)
VALUES ($1, $2, $3, false, $4, NULL, $5)
ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, key_id = EXCLUDED.key_id,
	created_at = EXCLUDED.created_at, confirmed_at = NULL, last_step = EXCLUDED.last_step
WHERE NOT totp_credentials.confirmed`),
		c.UserID, secret, c.KeyID, c.CreatedAt, c.LastStep)
	if err != nil {
		return wrap(ctx, "put pending totp", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("storage/postgres: put pending totp: already confirmed: %w", storage.ErrConflict)
	}
	return nil
}

// GetTOTP returns userID's credential, pending or confirmed, or
// ErrNotFound.
func (s *Store) GetTOTP(ctx context.Context, userID string) (*storage.TOTPCredential, error) {
	c := storage.TOTPCredential{UserID: userID}
	var confirmedAt *time.Time
	err := s.pool.QueryRow(ctx, s.q(`SELECT secret, key_id, confirmed, created_at, confirmed_at, last_step
FROM {schema}.totp_credentials WHERE user_id = $1`), userID).
		Scan(&c.Secret, &c.KeyID, &c.Confirmed, &c.CreatedAt, &confirmedAt, &c.LastStep)
	if err != nil {
		return nil, wrap(ctx, "get totp", err)
	}
	c.ConfirmedAt = timeOrZero(confirmedAt)
	return &c, nil
}

// ConfirmTOTP confirms userID's pending credential in one conditional
// update; ErrNotFound if there is none pending.
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, at time.Time) error {
	tag, err := s.pool.Exec(ctx, s.q(`UPDATE {schema}.totp_credentials SET confirmed = true, confirmed_at = $3, last_step = $2
WHERE user_id = $1 AND NOT confirmed`), userID, step, at)
	if err != nil {
		return wrap(ctx, "confirm totp", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("confirm totp")
	}
	return nil
}

// AcceptTOTPStep records step if it is strictly newer than the last
// accepted one, in one conditional update (RFC 6238 §5.2): of concurrent
// calls with the same step, the row lock lets exactly one match
// last_step < step. The same statement tells a replay (ErrStaleStep) from a
// missing credential (ErrNotFound).
func (s *Store) AcceptTOTPStep(ctx context.Context, userID string, step int64) error {
	var exists, accepted bool
	err := s.pool.QueryRow(ctx, s.q(`WITH accepted AS (
	UPDATE {schema}.totp_credentials SET last_step = $2
	WHERE user_id = $1 AND confirmed AND last_step < $2
	RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM {schema}.totp_credentials WHERE user_id = $1 AND confirmed),
	EXISTS (SELECT 1 FROM accepted)`), userID, step).Scan(&exists, &accepted)
	switch {
	case err != nil:
		return wrap(ctx, "accept totp step", err)
	case accepted:
		return nil
	case exists:
		return fmt.Errorf("storage/postgres: accept totp step: %w", storage.ErrStaleStep)
	default:
		return notFound("accept totp step")
	}
}

// UpdateTOTPSecret replaces the encrypted secret and its key ID;
// ErrNotFound if userID has no credential.
func (s *Store) UpdateTOTPSecret(ctx context.Context, userID string, secret []byte, keyID string) error {
	if secret == nil {
		secret = []byte{}
	}
	tag, err := s.pool.Exec(ctx, s.q(`UPDATE {schema}.totp_credentials SET secret = $2, key_id = $3 WHERE user_id = $1`),
		userID, secret, keyID)
	if err != nil {
		return wrap(ctx, "update totp secret", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("update totp secret")
	}
	return nil
}

// DeleteTOTP removes userID's credential; no-op if there is none.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	_, err := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.totp_credentials WHERE user_id = $1`), userID)
	return wrap(ctx, "delete totp", err)
}

// ReplaceRecoveryCodes replaces userID's codes in one transaction. A
// per-user advisory lock, taken first, serializes concurrent replacements:
// without it, under READ COMMITTED, each one's delete could miss the
// other's fresh inserts and both sets would survive.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []storage.TokenHash) error {
	codes := make([][]byte, len(hashes))
	for i := range hashes {
		codes[i] = hashes[i][:]
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(s.q(`SELECT pg_advisory_xact_lock(hashtextextended('sessionguard recovery codes ' || $1, 0))`), userID)
		b.Queue(s.q(`DELETE FROM {schema}.recovery_codes WHERE user_id = $1`), userID)
		b.Queue(s.q(`INSERT INTO {schema}.recovery_codes (user_id, code_hash)
SELECT $1, unnest($2::bytea[]) ON CONFLICT DO NOTHING`), userID, codes)
		return tx.SendBatch(ctx, &b).Close()
	})
	return wrap(ctx, "replace recovery codes", err)
}

// ConsumeRecoveryCode deletes the code in one statement; ErrNotFound unless
// this call deleted it.
func (s *Store) ConsumeRecoveryCode(ctx context.Context, userID string, h storage.TokenHash) error {
	tag, err := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.recovery_codes WHERE user_id = $1 AND code_hash = $2`), userID, h[:])
	if err != nil {
		return wrap(ctx, "consume recovery code", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("consume recovery code")
	}
	return nil
}

// CountRecoveryCodes returns how many unused codes userID has.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, s.q(`SELECT count(*) FROM {schema}.recovery_codes WHERE user_id = $1`), userID).Scan(&n)
	if err != nil {
		return 0, wrap(ctx, "count recovery codes", err)
	}
	return n, nil
}

// ReserveAttempt applies p.Next to userID's throttle in one transaction:
// one upsert creates the row if missing and locks it either way, so
// concurrent attempts queue and each sees the previous one's result. (An
// INSERT ... DO NOTHING followed by SELECT ... FOR UPDATE would find no
// row when a ResetAttempts deletes it in between.) A new row is inserted
// with the expiry of the zero state, so that even a refused attempt leaves
// nothing that outlives the policy's Retention; a row expired at now
// counts as none.
func (s *Store) ReserveAttempt(ctx context.Context, userID string, now time.Time, p storage.AttemptPolicy) (storage.Throttle, error) {
	var cur, next storage.Throttle
	var policyErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var lockedUntil, expiresAt *time.Time
		if err := tx.QueryRow(ctx, s.q(`INSERT INTO {schema}.attempt_throttles (user_id, failures, expires_at) VALUES ($1, 0, $2)
ON CONFLICT (user_id) DO UPDATE SET failures = attempt_throttles.failures
RETURNING failures, locked_until, expires_at`), userID, nullTime(p.ExpiresAt(storage.Throttle{}, now))).Scan(&cur.Failures, &lockedUntil, &expiresAt); err != nil {
			return err
		}
		cur.LockedUntil = timeOrZero(lockedUntil)
		if expiresAt != nil && !expiresAt.After(now) {
			cur = storage.Throttle{}
		}
		next, policyErr = p.Next(cur, now)
		if policyErr != nil {
			return nil
		}
		// PostgreSQL keeps microseconds: return what a later read returns.
		next.LockedUntil = next.LockedUntil.Truncate(time.Microsecond)
		_, err := tx.Exec(ctx, s.q(`UPDATE {schema}.attempt_throttles SET failures = $2, locked_until = $3, expires_at = $4 WHERE user_id = $1`),
			userID, next.Failures, nullTime(next.LockedUntil), nullTime(p.ExpiresAt(next, now)))
		return err
	})
	if err != nil {
		return storage.Throttle{}, wrap(ctx, "reserve attempt", err)
	}
	if policyErr != nil {
		return cur, fmt.Errorf("storage/postgres: reserve attempt: %w", policyErr)
	}
	return next, nil
}

// GetThrottle returns userID's state (the zero Throttle if none).
func (s *Store) GetThrottle(ctx context.Context, userID string) (storage.Throttle, error) {
	var t storage.Throttle
	var lockedUntil, expiresAt *time.Time
	err := s.pool.QueryRow(ctx, s.q(`SELECT failures, locked_until, expires_at FROM {schema}.attempt_throttles WHERE user_id = $1`), userID).
		Scan(&t.Failures, &lockedUntil, &expiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.Throttle{}, nil
	}
	if err != nil {
		return storage.Throttle{}, wrap(ctx, "get throttle", err)
	}
	if expiresAt != nil && !expiresAt.After(s.now()) {
		return storage.Throttle{}, nil // expired, not swept yet
	}
	t.LockedUntil = timeOrZero(lockedUntil)
	return t, nil
}

// ResetAttempts clears userID's failures and lockout by deleting the row.
func (s *Store) ResetAttempts(ctx context.Context, userID string) error {
	_, err := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.attempt_throttles WHERE user_id = $1`), userID)
	return wrap(ctx, "reset attempts", err)
}

// DeleteExpiredThrottles removes the throttle rows whose expiry is not
// after now; see [storage.ThrottleStore]. The background sweep calls it.
func (s *Store) DeleteExpiredThrottles(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.attempt_throttles WHERE expires_at <= $1`), now)
	if err != nil {
		return 0, wrap(ctx, "delete expired throttles", err)
	}
	return int(tag.RowsAffected()), nil
}
