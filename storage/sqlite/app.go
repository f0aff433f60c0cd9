package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// grantColumns are the columns scanGrant reads, in its order.
const grantColumns = `id, user_id, app_name, scopes, token_hash, created_at, last_used_at`

// scanGrant reads one row of grantColumns into g.
func scanGrant(sc scanner, g *storage.AppGrant) error {
	var (
		scopes        string
		h             []byte
		created, used int64
	)
	if err := sc.Scan(&g.ID, &g.UserID, &g.AppName, &scopes, &h, &created, &used); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(scopes), &g.Scopes); err != nil {
		return fmt.Errorf("storage/sqlite: stored scopes: %w", err)
	}
	if err := scanHash(h, &g.TokenHash); err != nil {
		return err
	}
	g.CreatedAt = decodeTime(created)
	g.LastUsedAt = decodeTime(used)
	return nil
}

// CreateAppGrant stores g; ErrConflict if its ID or token hash exists. See
// [storage.AppGrantStore].
func (s *Store) CreateAppGrant(ctx context.Context, g *storage.AppGrant) error {
	scopes, err := json.Marshal(g.Scopes)
	if err != nil {
		return fmt.Errorf("storage/sqlite: create app grant: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO app_grants (`+grantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.UserID, g.AppName, string(scopes), hashArg(g.TokenHash),
		encodeTime(g.CreatedAt), encodeTime(g.LastUsedAt))
	return wrap(ctx, "create app grant", err)
}

// GetAppGrant returns the grant whose token hash is h, or ErrNotFound. See
// [storage.AppGrantStore].
func (s *Store) GetAppGrant(ctx context.Context, h storage.TokenHash) (*storage.AppGrant, error) {
	row := s.getGrantStmt.QueryRowContext(ctx, hashArg(h))
	g := new(storage.AppGrant)
	if err := scanGrant(row, g); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errGrantNotFound
		}
		return nil, wrap(ctx, "get app grant", err)
	}
	return g, nil
}

// ListAppGrants returns userID's grants, newest CreatedAt first. See
// [storage.AppGrantStore].
func (s *Store) ListAppGrants(ctx context.Context, userID string) ([]storage.AppGrant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+grantColumns+` FROM app_grants
		WHERE user_id = ? ORDER BY created_at DESC, rowid DESC`, userID)
	if err != nil {
		return nil, wrap(ctx, "list app grants", err)
	}
	defer rows.Close()
	out := []storage.AppGrant{}
	for rows.Next() {
		var g storage.AppGrant
		if err := scanGrant(rows, &g); err != nil {
			return nil, wrap(ctx, "list app grants", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list app grants", err)
	}
	return out, nil
}

// TouchAppGrant sets LastUsedAt; ErrNotFound if the grant is gone. See
// [storage.AppGrantStore].
func (s *Store) TouchAppGrant(ctx context.Context, h storage.TokenHash, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE app_grants SET last_used_at = ? WHERE token_hash = ?`,
		encodeTime(at), hashArg(h))
	return affectedOne(ctx, "touch app grant", res, err, errGrantNotFound)
}

// RevokeAppGrant deletes userID's grant with the given ID and returns it;
// ErrNotFound if there is none or it belongs to another user. Subscribers
// are notified. See [storage.AppGrantStore].
func (s *Store) RevokeAppGrant(ctx context.Context, userID, id string) (*storage.AppGrant, error) {
	g := new(storage.AppGrant)
	err := s.revoke(ctx, "revoke app grant", func(tx *sql.Tx) (storage.Revocation, error) {
		row := tx.QueryRowContext(ctx, `DELETE FROM app_grants WHERE user_id = ? AND id = ?
			RETURNING `+grantColumns, userID, id)
		if err := scanGrant(row, g); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				// Another user's grant: indistinguishable from none
				// (RFC 7009 §2.1).
				return storage.Revocation{}, errGrantNotFound
			}
			return storage.Revocation{}, wrap(ctx, "revoke app grant", err)
		}
		return storage.Revocation{UserID: userID, TokenHash: g.TokenHash}, nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// RevokeUserAppGrants deletes all of userID's grants in one transaction and
// returns how many; subscribers are notified once. See
// [storage.AppGrantStore].
func (s *Store) RevokeUserAppGrants(ctx context.Context, userID string) (int, error) {
	var n int64
	err := s.revoke(ctx, "revoke user app grants", func(tx *sql.Tx) (storage.Revocation, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM app_grants WHERE user_id = ?`, userID)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return storage.Revocation{UserID: userID}, wrap(ctx, "revoke user app grants", err)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
