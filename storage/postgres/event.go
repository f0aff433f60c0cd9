package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
)

// AppendEvent stores e and sets e.ID from the events' bigserial.
func (s *Store) AppendEvent(ctx context.Context, e *storage.Event) error {
	err := s.pool.QueryRow(ctx, s.q(`INSERT INTO {schema}.security_events
	(user_id, type, at, session_handle, ip, device, location, detail, actor)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`),
		e.UserID, string(e.Type), e.At, e.SessionHandle, e.IP, e.Device, e.Location, e.Detail, e.Actor).Scan(&e.ID)
	return wrap(ctx, "append event", err)
}

// ListEvents returns up to limit of userID's events with ID < before
// (before <= 0: from the newest), newest first. A limit <= 0 returns none.
func (s *Store) ListEvents(ctx context.Context, userID string, before int64, limit int) ([]storage.Event, error) {
	if limit <= 0 {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, "list events", err)
		}
		return nil, nil
	}
	// Two statements rather than "$2 <= 0 OR id < $2", so that each plan
	// is a plain range scan of (user_id, id DESC).
	const columns = `SELECT id, type, at, session_handle, ip, device, location, detail, actor FROM {schema}.security_events `
	var (
		rows pgx.Rows
		err  error
	)
	if before <= 0 {
		rows, err = s.pool.Query(ctx, s.q(columns+`WHERE user_id = $1 ORDER BY id DESC LIMIT $2`), userID, limit)
	} else {
		rows, err = s.pool.Query(ctx, s.q(columns+`WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`), userID, before, limit)
	}
	if err != nil {
		return nil, wrap(ctx, "list events", err)
	}
	defer rows.Close()
	var out []storage.Event
	for rows.Next() {
		e := storage.Event{UserID: userID}
		var typ string
		if err := rows.Scan(&e.ID, &typ, &e.At, &e.SessionHandle, &e.IP, &e.Device, &e.Location, &e.Detail, &e.Actor); err != nil {
			return nil, wrap(ctx, "list events", err)
		}
		e.Type = storage.EventType(typ)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list events", err)
	}
	return out, nil
}

// DeleteEventsBefore removes events older than t and returns how many.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q(`DELETE FROM {schema}.security_events WHERE at < $1`), t)
	if err != nil {
		return 0, wrap(ctx, "delete events", err)
	}
	return int(tag.RowsAffected()), nil
}
