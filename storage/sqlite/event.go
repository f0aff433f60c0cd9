package sqlite

import (
	"context"
	"math"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// AppendEvent stores e and sets e.ID. IDs come from an AUTOINCREMENT key:
// they increase in append order and are never reused, even after the newest
// events are deleted. See [storage.EventStore].
func (s *Store) AppendEvent(ctx context.Context, e *storage.Event) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO events
			(user_id, type, at, session_handle, ip, device, location, detail, actor)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.UserID, string(e.Type), encodeTime(e.At), e.SessionHandle, e.IP, e.Device, e.Location, e.Detail, e.Actor)
	if err != nil {
		return wrap(ctx, "append event", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return wrap(ctx, "append event", err)
	}
	e.ID = id
	return nil
}

// ListEvents returns up to limit of userID's events with ID < before
// (before <= 0: from the newest), newest first. A limit <= 0 returns no
// events. See [storage.EventStore].
func (s *Store) ListEvents(ctx context.Context, userID string, before int64, limit int) ([]storage.Event, error) {
	out := []storage.Event{}
	if limit <= 0 {
		if err := ctxErr(ctx, "list events"); err != nil {
			return nil, err
		}
		return out, nil
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, type, at, session_handle, ip, device, location, detail, actor
		FROM events WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, userID, before, limit)
	if err != nil {
		return nil, wrap(ctx, "list events", err)
	}
	defer rows.Close()
	for rows.Next() {
		e := storage.Event{UserID: userID}
		var typ string
		var at int64
		if err := rows.Scan(&e.ID, &typ, &at, &e.SessionHandle, &e.IP, &e.Device, &e.Location, &e.Detail, &e.Actor); err != nil {
			return nil, wrap(ctx, "list events", err)
		}
		e.Type = storage.EventType(typ)
		e.At = decodeTime(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list events", err)
	}
	return out, nil
}

// DeleteEventsBefore removes events whose At is before t and returns how
// many. See [storage.EventStore].
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE at < ?`, encodeTime(t))
	if err != nil {
		return 0, wrap(ctx, "delete events", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(ctx, "delete events", err)
	}
	return int(n), nil
}

// ctxErr returns ctx's error, wrapped, if ctx is done.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}
