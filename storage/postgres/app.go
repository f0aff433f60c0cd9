package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
)

// grantColumns is the column list of every grant read, in the order
// scanGrant expects.
const grantColumns = `id, user_id, app_name, scopes, token_hash, created_at, last_used_at`

// scanGrant reads one row of grantColumns, followed by extra destinations
// (nil skips a column).
func scanGrant(row pgx.Row, extra ...any) (*storage.AppGrant, error) {
	var (
		g        storage.AppGrant
		hash     []byte
		lastUsed *time.Time
	)
	dst := append([]any{&g.ID, &g.UserID, &g.AppName, &g.Scopes, &hash, &g.CreatedAt, &lastUsed}, extra...)
	if err := row.Scan(dst...); err != nil {
		return nil, err
	}
	if err := copyHash(&g.TokenHash, hash); err != nil {
		return nil, err
	}
	if len(g.Scopes) == 0 {
		g.Scopes = nil
	}
	g.LastUsedAt = timeOrZero(lastUsed)
	return &g, nil
}

// CreateAppGrant stores g; ErrConflict if its ID or token hash exists.
func (s *Store) CreateAppGrant(ctx context.Context, g *storage.AppGrant) error {
	scopes := g.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	_, err := s.pool.Exec(ctx, s.q(`INSERT INTO {schema}.app_grants (`+grantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`),
		g.ID, g.UserID, g.AppName, scopes, g.TokenHash[:], g.CreatedAt, nullTime(g.LastUsedAt))
	return wrap(ctx, "create app grant", err)
}

// GetAppGrant returns the grant whose token hash is h, or ErrNotFound.
func (s *Store) GetAppGrant(ctx context.Context, h storage.TokenHash) (*storage.AppGrant, error) {
	g, err := scanGrant(s.pool.QueryRow(ctx, s.q(`SELECT `+grantColumns+` FROM {schema}.app_grants WHERE token_hash = $1`), h[:]))
	if err != nil {
		return nil, wrap(ctx, "get app grant", err)
	}
	return g, nil
}

// ListAppGrants returns userID's grants, newest CreatedAt first.
func (s *Store) ListAppGrants(ctx context.Context, userID string) ([]storage.AppGrant, error) {
	rows, err := s.pool.Query(ctx, s.q(`SELECT `+grantColumns+` FROM {schema}.app_grants
WHERE user_id = $1 ORDER BY created_at DESC, id`), userID)
	if err != nil {
		return nil, wrap(ctx, "list app grants", err)
	}
	defer rows.Close()
	var out []storage.AppGrant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, wrap(ctx, "list app grants", err)
		}
		out = append(out, *g)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list app grants", err)
	}
	return out, nil
}

// TouchAppGrant sets LastUsedAt; ErrNotFound if the grant is gone.
func (s *Store) TouchAppGrant(ctx context.Context, h storage.TokenHash, at time.Time) error {
	tag, err := s.pool.Exec(ctx, s.q(`UPDATE {schema}.app_grants SET last_used_at = $2 WHERE token_hash = $1`), h[:], nullTime(at))
	if err != nil {
		return wrap(ctx, "touch app grant", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("touch app grant")
	}
	return nil
}

// RevokeAppGrant deletes userID's grant with the given ID and returns it,
// notifying subscribers in the same statement; ErrNotFound if userID has
// no such grant.
func (s *Store) RevokeAppGrant(ctx context.Context, userID, id string) (*storage.AppGrant, error) {
	g, err := scanGrant(s.pool.QueryRow(ctx, s.q(`WITH deleted AS (
	DELETE FROM {schema}.app_grants WHERE user_id = $1 AND id = $2
	RETURNING `+grantColumns+`, `+sqlPayload("token_hash", "user_id")+` AS payload
), fed AS (
	INSERT INTO {schema}.revocation_feed (payload) SELECT payload FROM deleted
)
SELECT `+grantColumns+`, pg_notify($3, payload) FROM deleted`),
		userID, id, s.channel), nil)
	if err != nil {
		return nil, wrap(ctx, "revoke app grant", err)
	}
	return g, nil
}

// RevokeUserAppGrants deletes all of userID's grants and notifies
// subscribers once if it deleted any, in one statement.
func (s *Store) RevokeUserAppGrants(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, s.q(`WITH deleted AS (
	DELETE FROM {schema}.app_grants WHERE user_id = $1 RETURNING 1
), counted AS (
	SELECT count(*) AS n, `+sqlStamp("$3::text")+` AS payload FROM deleted
), fed AS (
	INSERT INTO {schema}.revocation_feed (payload) SELECT payload FROM counted WHERE n > 0
)
SELECT n, CASE WHEN n > 0 THEN pg_notify($2, payload) END FROM counted`),
		userID, s.channel, encodePayload(storage.TokenHash{}, userID)).Scan(&n, nil)
	if err != nil {
		return 0, wrap(ctx, "revoke user app grants", err)
	}
	return n, nil
}
